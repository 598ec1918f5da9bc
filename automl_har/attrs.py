"""Names under which autohar stores things in Optuna studies and MLflow runs, in one place.

Kept free of heavy imports so the CLI can read a study's records without loading torch.
"""

#: study user attribute: the whole SearchSpec, so `autohar worker`, `verify` and `export` can rebuild it
SPEC_ATTR = "autohar_search_spec"
#: study trial user attribute: the ``--param`` values that replaced what the sampler proposed
FIXED_PARAMS_ATTR = "fixed_params"

#: study user attribute per verified ``top<K>-r<R>`` key (``verify:top3-r5``): the summary dict
VERIFY_ATTR_PREFIX = "verify:"
#: study user attribute: the key of the last ``autohar verify``
LAST_VERIFY_ATTR = "verify_last"
#: parent-run tags of the last verify
VERDICT_TAG = "autohar.verify_verdict"
VERIFY_KEY_TAG = "autohar.verify_key"

#: the run tag (``ctx.set_tag(NOTICE_TAG, text)``; MLflow ``autohar.notice``) by which a method says
#: that a run departs from its paper's setting, e.g. img2imu pre-training on windows, not on images
NOTICE_TAG = "notice"
#: the trial user attribute the engines copy that notice into, for `autohar show`
NOTICE_ATTR = "notice"
