"""Combined datasets (Presotto et al., spec combined.md): label maps, harmonising and concatenating
datasets, the within-subject split, the per-subject draw floor, sensor-wise z-score and the
zero-shot protocol."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from automl_har.data._types import WindowedData
from automl_har.data.combine import COMMON_SENSORS, concat_windowed, harmonise
from automl_har.data.labels import PAPER_CLASSES, LabelMap, base_dataset, native_classes, native_key
from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.data.registry import dataset_names, get_dataset
from automl_har.data.splits import Standardizer, SubjectSplit, few_shot_indices, within_subject_split
from automl_har.errors import ConfigError, DatasetNotFoundError
from automl_har.objectives.prepared import PreparedData
from automl_har.objectives.protocol import Protocol
from automl_har.objectives.splits import parse_split, source_validation_split

#: spec §1.2: the code's ACTIVITY_LABEL, lower-cased (the class index of every head)
SPEC_CLASSES = ["downstairs", "upstairs", "running", "sitting", "standing", "walking", "lying", "cycling",
                "nordic_walking", "jumping"]
#: spec §1.3: the common classes each paper dataset has after the mapping
SPEC_PRESENT = {
    "hhar": {"downstairs", "upstairs", "cycling", "sitting", "standing", "walking"},
    "mobiact": {"downstairs", "upstairs", "running", "sitting", "standing", "walking", "jumping"},
    "motionsense": {"downstairs", "upstairs", "running", "sitting", "standing", "walking"},
    "realworld": {"downstairs", "upstairs", "running", "sitting", "standing", "walking", "lying", "jumping"},
    "uci-har": {"downstairs", "upstairs", "sitting", "standing", "walking", "lying"},
    "pamap2": set(SPEC_CLASSES),
}


def windows(classes, *, n_per_class=4, subjects=(1, 2), modalities=("acc", "gyro"), channels=3, length=10,
            rate=50.0, dataset=None, seed=0):
    """Windows of every (subject, class), ``n_per_class`` each, with the given native class names."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.repeat(np.arange(len(classes)), n_per_class), len(subjects))
    subject = np.repeat(np.asarray(subjects), len(classes) * n_per_class)
    n = len(y)
    return WindowedData(modalities={m: rng.normal(size=(n, length, channels)) for m in modalities}, y=y,
                        subject=subject, classes=list(classes), rates_hz={m: rate for m in modalities},
                        dataset=None if dataset is None else np.full(n, dataset))


# ------------------------------------------------------------------------------ builtin map
def test_builtin_map_has_the_papers_ten_classes_in_the_codes_order():
    label_map = LabelMap.builtin()
    assert list(label_map.classes) == SPEC_CLASSES == list(PAPER_CLASSES)
    assert label_map.source == "builtin"


@pytest.mark.parametrize(("dataset", "native", "common"), [
    ("hhar", "stairsup", "upstairs"), ("hhar", "stairsdown", "downstairs"), ("hhar", "bike", "cycling"),
    ("hhar", "sit", "sitting"),
    ("mobiact", "STU", "upstairs"), ("mobiact", "STN", "downstairs"), ("mobiact", "JOG", "running"),
    ("mobiact", "SIT", "sitting"), ("mobiact", "JUM", "jumping"), ("mobiact", "CSI", None), ("mobiact", "CSO", None),
    ("mobiact", "SCH", None), ("mobiact", "LYI", None), ("mobiact", "FOL", None),
    ("motionsense", "jogging", "running"), ("motionsense", "downstairs", "downstairs"),
    ("realworld", "climbingup", "upstairs"), ("realworld", "climbingdown", "downstairs"),
    ("realworld", "lying", "lying"),
    ("uci-har", "WALKING_UPSTAIRS", "upstairs"), ("uci-har", "WALKING_DOWNSTAIRS", "downstairs"),
    ("uci-har", "LAYING", "lying"), ("uci-har", "WALKING", "walking"),
    ("pamap2", "nordic_walking", "nordic_walking"), ("pamap2", "rope_jumping", "jumping"),
    ("pamap2", "ascending_stairs", "upstairs"), ("pamap2", "descending_stairs", "downstairs"),
    ("pamap2", "vacuum_cleaning", None), ("pamap2", "ironing", None),  # spec A5: dropped, not "downstairs"
])
def test_builtin_map_spot_entries_follow_the_spec_table(dataset, native, common):
    mapping = LabelMap.builtin().mapping_of(dataset)
    assert mapping[native_key(native)] == common


@pytest.mark.parametrize("dataset", sorted(SPEC_PRESENT))
def test_builtin_map_gives_each_paper_dataset_the_spec_classes(dataset):
    label_map = LabelMap.builtin()
    native = get_dataset(dataset).info.classes
    mapped = {label_map.mapping_of(dataset)[native_key(c)] for c in native} - {None}
    assert mapped == SPEC_PRESENT[dataset]


def test_builtin_map_covers_every_native_class_of_every_dataset_it_has_an_entry_for():
    label_map = LabelMap.builtin()
    covered = [name for name in dataset_names() if name in label_map.datasets]
    assert set(SPEC_PRESENT) <= set(covered)  # the six paper datasets are registered and mapped
    for name in covered:
        classes = get_dataset(name).info.classes
        assert classes, name
        mapping = label_map.mapping_of(name)
        missing = [c for c in classes if native_key(c) not in mapping]
        assert not missing, f"builtin map leaves {missing} of {name} unmapped"
        # applying it to one window per native class keeps exactly the mapped ones
        kept = label_map.apply(windows(classes, n_per_class=1, subjects=(1,)), name)
        assert len(kept) == sum(mapping[native_key(c)] is not None for c in classes) > 0


def test_builtin_map_reindexes_labels_and_drops_pamap2_subject_109():
    label_map = LabelMap.builtin()
    hhar = windows(("stand", "sit", "walk", "stairsup", "stairsdown", "bike"), n_per_class=2)
    mapped = label_map.apply(hhar, "hhar")
    assert len(mapped) == len(hhar) and mapped.classes == list(PAPER_CLASSES)
    expected = [PAPER_CLASSES.index(c) for c in ("standing", "sitting", "walking", "upstairs", "downstairs", "cycling")]
    np.testing.assert_array_equal(mapped.y, np.asarray(expected)[hhar.y])
    np.testing.assert_array_equal(mapped.modalities["acc"], hhar.modalities["acc"])

    pamap2 = windows(("walking", "ironing"), n_per_class=3, subjects=("101", "109"))
    kept = label_map.apply(pamap2, "pamap2:ankle")  # a variant finds its dataset's entry
    assert set(kept.subject) == {"101"} and len(kept) == 3
    assert set(kept.y) == {PAPER_CLASSES.index("walking")}
    assert label_map.excluded_subjects("pamap2") == ("109",) and label_map.excluded_subjects("hhar") == ()


def test_excluded_subjects_are_dropped_from_a_source_too():
    """A source's ids get a dataset prefix; the map's ``exclude_subjects`` names the dataset's own ids
    (regression: ``pamap2:109`` did not match ``109``, so PAMAP2 as a source kept subject 109)."""
    pamap2 = windows(("walking", "ironing"), n_per_class=3, subjects=(101, 109))
    as_target = harmonise(pamap2, "pamap2", LabelMap.builtin())
    as_source = harmonise(pamap2, "pamap2", LabelMap.builtin(), prefix_subjects=True)
    assert set(as_target.subject.tolist()) == {101}
    assert set(as_source.subject.tolist()) == {"pamap2:101"} and len(as_source) == len(as_target) == 3


def test_native_names_compare_without_case_underscores_or_dashes():
    assert native_key("Nordic_Walking") == native_key("nordic-walking") == native_key("  nordic   walking") \
        == "nordic walking"
    assert base_dataset("watch:side0") == "watch" and base_dataset("/data/pool/domain0.npz") == "domain0"


# ----------------------------------------------------------------------------- errors
def test_an_unmapped_label_is_an_error_naming_it_and_the_fix():
    data = windows(("walk", "teleporting"))
    with pytest.raises(ConfigError) as error:
        LabelMap.builtin().apply(data, "hhar")
    message = str(error.value)
    assert "'teleporting'" in message and "'hhar'" in message
    assert "--label-map FILE" in message and "copy of the builtin map" in message
    assert "'walk'" not in message  # only the unmapped ones are named


def test_an_unmapped_label_of_a_file_map_names_the_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump({"classes": ["a"], "datasets": {"mine": {"x": "a"}}}))
    with pytest.raises(ConfigError, match=rf"'y'.*datasets: mine in {re.escape(str(path))}"):
        LabelMap.from_yaml(path).apply(windows(("x", "y")), "mine")


def test_a_dataset_the_map_does_not_know_is_an_error():
    with pytest.raises(ConfigError, match=r"no entry for dataset 'watch'.*--label-map identity"):
        LabelMap.builtin().apply(windows(("a", "b")), "watch")


def test_a_map_onto_an_unknown_common_class_or_repeated_classes_is_an_error():
    with pytest.raises(ConfigError, match=r"maps to 'flying', which is not in 'classes'"):
        LabelMap(("a", "b"), {"d": {"x": "flying"}}, source="test")
    with pytest.raises(ConfigError, match="distinct names"):
        LabelMap(("a", "a"), {}, source="test")


# ------------------------------------------------------------------------------ YAML maps
MAP = {
    "classes": ["walking", "resting"],
    "datasets": {"mydata": {"class_0": "walking", "class_1": "resting", "class_2": None},
                 "other:v1": {"Walk": "walking", "Sit": "resting"}},
    "inputs": {"mydata": {"acc": "accel"}},
    "exclude_subjects": {"mydata": [6]},
}


def test_yaml_map_round_trips_and_its_hash_follows_the_content(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(MAP))
    label_map = LabelMap.from_yaml(path)
    assert label_map.classes == ("walking", "resting") and label_map.source == str(path)
    assert label_map.to_dict() == {**MAP, "exclude_subjects": {"mydata": ["6"]}}  # subject ids as text
    assert LabelMap.named(str(path), {}).to_dict() == label_map.to_dict()
    assert label_map.mapping_of("other:v1") == {"walk": "walking", "sit": "resting"}

    copy = tmp_path / "copy.yaml"
    copy.write_text(path.read_text())
    assert LabelMap.from_yaml(copy).content_hash() == label_map.content_hash()  # not where it came from
    changed = {**MAP, "datasets": {**MAP["datasets"], "mydata": {**MAP["datasets"]["mydata"], "class_2": "resting"}}}
    path.write_text(yaml.safe_dump(changed))
    assert LabelMap.from_yaml(path).content_hash() != label_map.content_hash()


def test_null_in_a_yaml_map_drops_the_label_and_inputs_rename_sensors(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(MAP))
    data = make_synthetic(n_windows=90, n_classes=3, n_subjects=6, modalities=("accel", "gyro"), window_s=0.4)
    harmonised = harmonise(data, "mydata", LabelMap.from_yaml(path))
    # class_2 (null) and subject 6 (excluded) are gone; the rest keep their windows
    expected = (data.y != 2) & (data.subject != 6)
    assert len(harmonised) == expected.sum() > 0
    assert harmonised.classes == ["walking", "resting"]
    np.testing.assert_array_equal(harmonised.y, data.y[expected])
    assert list(harmonised.modalities) == list(COMMON_SENSORS)  # accel became acc, in the common order
    np.testing.assert_array_equal(harmonised.modalities["acc"], data.modalities["accel"][expected])
    assert harmonised.channels["acc"] == ["acc_x", "acc_y", "acc_z"]
    assert set(harmonised.dataset) == {"mydata"}


def test_bad_yaml_maps_are_one_line_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        LabelMap.from_yaml(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MAP, "colours": {}}))
    with pytest.raises(ConfigError, match="unknown key 'colours'"):
        LabelMap.from_yaml(bad)
    bad.write_text(yaml.safe_dump({"classes": ["a"]}))
    with pytest.raises(ConfigError, match="needs a 'classes' list and a 'datasets' mapping"):
        LabelMap.from_yaml(bad)
    bad.write_text(yaml.safe_dump({"classes": ["a"], "datasets": {"d": ["a"]}}))
    with pytest.raises(ConfigError, match="must map native class -> common class"):
        LabelMap.from_yaml(bad)


# -------------------------------------------------------------------------- identity map
def test_identity_map_merges_equal_native_names_of_several_datasets():
    first = windows(("Walk", "Sit"), dataset="a")
    second = windows(("walk ", "Run"), dataset="b")
    label_map = LabelMap.named("identity", native_classes([("a", first), ("b", second)]))
    assert label_map.classes == ("walk", "sit", "run")
    a, b = label_map.apply(first, "a"), label_map.apply(second, "b")
    assert a.classes == b.classes == ["walk", "sit", "run"]
    np.testing.assert_array_equal(a.y, first.y)  # walk 0, sit 1
    np.testing.assert_array_equal(b.y, np.array([0, 2])[second.y])  # walk 0, run 2
    assert len(concat_windowed([a, b])) == len(first) + len(second)


# ---------------------------------------------------------------------------- concat_windowed
def _harmonised(name, seed, **shape):
    data = make_synthetic(n_windows=shape.pop("n_windows", 24), n_classes=3, n_subjects=2, seed=seed,
                          window_s=0.4, **shape)
    return harmonise(data, name, LabelMap.identity({name: data.classes}), prefix_subjects=True)


def test_concatenated_windows_carry_their_dataset_and_slicing_keeps_it():
    first, second = _harmonised("d1", 1, n_windows=24), _harmonised("d2", 2, n_windows=30)
    assert set(first.subject) == {"d1:1", "d1:2"}  # a person of two datasets counts as two users
    merged = concat_windowed([first, second])
    assert len(merged) == 54 and merged.classes == first.classes
    np.testing.assert_array_equal(merged.dataset, ["d1"] * 24 + ["d2"] * 30)
    np.testing.assert_array_equal(merged.modalities["gyro"][24:], second.modalities["gyro"])
    index = np.array([0, 25, 53, 3])
    np.testing.assert_array_equal(merged[index].dataset, ["d1", "d2", "d2", "d1"])
    np.testing.assert_array_equal(merged[index].subject, merged.subject[index])
    standardized = Standardizer(mode="sensor").fit(merged).transform(merged)
    np.testing.assert_array_equal(standardized.dataset, merged.dataset)
    np.testing.assert_array_equal(merged.select_modalities(["acc"]).dataset, merged.dataset)
    relabelled = concat_windowed([first, _harmonised("d3", 2, n_windows=30)])
    assert relabelled.content_hash() != merged.content_hash()  # same arrays, other dataset ids


@pytest.mark.parametrize(("change", "message"), [
    (dict(modalities=("acc",)), r"datasets 'd2' and 'd1' have different sensors"),
    (dict(channels=2), r"'d2' and 'd1' have acc windows of shape \(20, 2\) vs \(20, 3\).*--window and --rate"),
])
def test_concat_refuses_parts_with_other_sensors_or_channels(change, message):
    first = _harmonised("d1", 1, rate_hz=50.0)
    other = _harmonised("d2", 2, **{"rate_hz": 50.0, **change})
    with pytest.raises(ConfigError, match=message):
        concat_windowed([first, other])


def test_concat_refuses_parts_with_other_classes_or_nothing():
    first = _harmonised("d1", 1)
    data = make_synthetic(n_windows=24, n_classes=3, n_subjects=2, seed=2, window_s=0.4)
    renamed = harmonise(data, "d2", LabelMap(("x", "y", "z"), {"d2": dict(zip(data.classes, "xyz"))}))
    with pytest.raises(ConfigError, match="'d2' and 'd1' have different class lists; harmonise them with one label"):
        concat_windowed([first, renamed])
    same_shape_other_rate = first.with_modalities(first.modalities)
    same_shape_other_rate.rates_hz = {k: 25.0 for k in first.rates_hz}
    with pytest.raises(ConfigError, match="at 25.0 Hz vs 50.0 Hz; pass --rate 50"):
        concat_windowed([first, same_shape_other_rate])
    with pytest.raises(ConfigError, match="at least one dataset"):
        concat_windowed([])


def test_harmonise_without_acc_or_gyro_is_an_error_naming_the_fix():
    data = make_synthetic(n_windows=12, n_classes=3, modalities=("emg",), window_s=0.4)
    with pytest.raises(ConfigError, match=r"no 'acc' sensor.*'inputs' of a --label-map file"):
        harmonise(data, "d", LabelMap.identity({"d": data.classes}))


# ------------------------------------------------------------------------- within-subject split
def test_within_subject_split_puts_every_subject_in_every_part_about_70_10_20():
    per = 40  # windows per (subject, class)
    y = np.tile(np.repeat(np.arange(3), per), 4)
    subject = np.repeat(np.array(["a", "b", "c", "d"]), 3 * per)
    split = within_subject_split(y, subject)
    parts = (split.train, split.val, split.test)
    for one, other in ((0, 1), (0, 2), (1, 2)):
        assert not np.intersect1d(parts[one], parts[other]).size
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
    for who in "abcd":
        for label in range(3):
            mine = [part[(subject[part] == who) & (y[part] == label)] for part in parts]
            assert [len(m) for m in mine] == [28, 4, 8]  # 70 / 10 / 20 of 40
            assert mine[0].max() < mine[1].min() and mine[1].max() < mine[2].min()  # in time order
    assert split.train_subjects == split.val_subjects == split.test_subjects == ["a", "b", "c", "d"]


def test_within_subject_split_of_uneven_counts_stays_near_70_10_20():
    rng = np.random.default_rng(0)
    subject = rng.integers(0, 5, size=997)
    y = rng.integers(0, 4, size=997)
    split = within_subject_split(y, subject)
    for who in range(5):
        counts = np.array([np.sum(subject[p] == who) for p in (split.train, split.val, split.test)])
        assert np.allclose(counts / counts.sum(), [0.7, 0.1, 0.2], atol=0.05), counts
    with pytest.raises(ConfigError, match="train \\+ val \\+ test = folds"):
        within_subject_split(y, subject, folds=10, train=7, val=1, test=1)


def test_within_subject_protocol_split_and_its_sources_split():
    y = np.tile(np.repeat(np.arange(2), 20), 3)
    subject = np.repeat([1, 2, 3], 40)
    (fold,) = parse_split("within_subject").folds(subject, y, Protocol())
    assert len(fold.train) == 84 and len(fold.val) == 12 and len(fold.test) == 24
    with pytest.raises(ConfigError, match="puts every subject in every part"):
        parse_split("within_subject").folds(subject, y, Protocol(val_subjects=(1,)))
    pretrain, val = source_validation_split(subject, y, Protocol(split="within_subject"))
    assert (len(pretrain), len(val)) == (108, 12) and not np.intersect1d(pretrain, val).size
    assert set(subject[val]) == {1, 2, 3}  # the last tenth of every subject validates
    pretrain, val = source_validation_split(subject, y, Protocol(source_val_fraction=0.3))
    assert len(set(subject[val])) == 1 and not set(subject[val]) & set(subject[pretrain])  # a held-out person


# ------------------------------------------------------------------------------ per-subject draw
def test_grouped_draw_gives_one_window_per_class_below_the_floor():
    y = np.tile(np.arange(6), 50)  # 300 windows, 6 classes, one subject
    groups = np.full(300, "s1")
    chosen = few_shot_indices(y, np.arange(300), label_ratio=0.01, seed=0, groups=groups, floor_below=10)
    assert len(chosen) == 6 and sorted(y[chosen]) == list(range(6))
    # 3 % of 300 = 9 < 10 windows: still the floor, where the plain ratio would give 2 per class
    floored = few_shot_indices(y, np.arange(300), label_ratio=0.03, seed=0, groups=groups, floor_below=10)
    plain = few_shot_indices(y, np.arange(300), label_ratio=0.03, seed=0, groups=groups)
    assert (len(floored), len(plain)) == (6, 12)
    # 4 % = 12 windows: at the floor's boundary the ratio is honoured
    assert len(few_shot_indices(y, np.arange(300), label_ratio=0.04, seed=0, groups=groups, floor_below=10)) == 12


def test_grouped_draw_honours_the_ratio_inside_every_large_subject():
    y = np.tile(np.arange(6), 1000)  # 6000 windows
    groups = np.repeat(np.array(["big1", "big2", "small"]), [3000, 2940, 60])
    chosen = few_shot_indices(y, np.arange(6000), label_ratio=0.1, seed=3, groups=groups, floor_below=10)
    per_group = {g: int(np.sum(groups[chosen] == g)) for g in ("big1", "big2", "small")}
    assert per_group == {"big1": 300, "big2": 294, "small": 6}  # 10 %; 10 % of 60 = 6 < 10 -> one per class
    for g in ("big1", "big2", "small"):
        assert np.bincount(y[chosen[groups[chosen] == g]], minlength=6).min() >= 1
    again = few_shot_indices(y, np.arange(6000), label_ratio=0.1, seed=3, groups=groups, floor_below=10)
    np.testing.assert_array_equal(chosen, again)


# --------------------------------------------------------------------------- sensor-wise z-score
def _scaled_acc(n=50):
    rng = np.random.default_rng(1)
    acc = rng.normal(size=(n, 16, 3)) * np.array([1.0, 4.0, 0.5]) + np.array([9.8, 0.0, -2.0])
    gyro = rng.normal(size=(n, 16, 3)) * 0.1
    return WindowedData(modalities={"acc": acc, "gyro": gyro}, y=np.zeros(n), subject=np.ones(n), classes=["a"],
                        rates_hz={"acc": 50.0, "gyro": 50.0})


def test_sensor_mode_pools_one_mean_and_std_over_the_axes_of_each_modality():
    data = _scaled_acc()
    sensor = Standardizer(mode="sensor").fit(data)
    channel = Standardizer(mode="channel").fit(data)
    for name, x in data.modalities.items():
        x = x.astype(np.float64)
        np.testing.assert_allclose(sensor.means[name], np.full(3, x.mean()), rtol=1e-6)
        np.testing.assert_allclose(sensor.stds[name], np.full(3, x.std()), rtol=1e-6)
        np.testing.assert_allclose(channel.means[name], x.mean(axis=(0, 1)), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(channel.stds[name], x.std(axis=(0, 1)), rtol=1e-6)
    assert len(set(np.round(channel.means["acc"], 6))) == 3  # per channel they differ
    z = sensor.transform(data).modalities["acc"]
    assert abs(z.mean()) < 1e-5 and z.std() == pytest.approx(1.0, abs=1e-4)
    axis_stds = z.std(axis=(0, 1))
    assert axis_stds[1] > 3 * axis_stds[0] > 3 * axis_stds[2]  # the axes keep their relative scale
    np.testing.assert_allclose(channel.transform(data).modalities["acc"].std(axis=(0, 1)), 1.0, atol=1e-4)


@pytest.mark.parametrize("mode", ["channel", "sensor"])
def test_standardizer_dict_round_trip_gives_the_same_transform(mode):
    data = _scaled_acc()
    fitted = Standardizer(mode=mode).fit(data)
    rebuilt = Standardizer.from_dict(fitted.to_dict())
    np.testing.assert_array_equal(rebuilt.transform(data).modalities["acc"], fitted.transform(data).modalities["acc"])
    np.testing.assert_array_equal(rebuilt.transform(data).modalities["gyro"], fitted.transform(data).modalities["gyro"])


def test_unknown_normalization_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown normalization 'global'"):
        Standardizer(mode="global")


# ---------------------------------------------------------------------------------- zero-shot
def _prepared(pool_fraction=1.0):
    train, val = windows(("a", "b"), n_per_class=20), windows(("a", "b"), n_per_class=3, seed=1)
    split = SubjectSplit(np.arange(len(train)), np.arange(len(val)), np.arange(0))
    return PreparedData(train=train, val=val, test=val, split=split, standardizer=Standardizer().fit(train),
                        data_hash="h", pool_fraction=pool_fraction)


def test_label_ratio_zero_is_zero_shot_and_bad_ratios_are_errors():
    zero = Protocol(label_ratio=0)
    assert zero.zero_shot and zero.labels_per_class is None
    assert not Protocol(label_ratio=0.1).zero_shot and not Protocol().zero_shot
    for ratio in (-0.01, 1.5):
        with pytest.raises(ConfigError, match=r"label ratio must be in \[0, 1\] \(0 = zero-shot\)"):
            Protocol(label_ratio=ratio)


def test_zero_shot_has_no_labeled_draw_and_validates_on_every_window():
    data = _prepared()
    zero = Protocol(label_ratio=0, validation="few")
    with pytest.raises(ConfigError, match="zero-shot: there is no labeled draw"):
        data.labeled_draw(zero, 0)
    assert len(data.validation_for_draw(zero, 0)) == len(data.val)
    assert len(data.labeled_draw(Protocol(label_ratio=0.5), 0)) == len(data.train) // 2


def test_ratio_of_the_dataset_and_the_per_subject_floor_in_labeled_draw():
    data = _prepared(pool_fraction=0.7)
    assert data.pool_share(Protocol(label_ratio=0.07, ratio_of="dataset")) == pytest.approx(0.1)
    assert data.pool_share(Protocol(label_ratio=0.9, ratio_of="dataset")) == 1.0
    assert data.pool_share(Protocol(label_ratio=0.07)) == 0.07
    # 2 subjects x 40 windows: 50 % of a subject is 20 >= 10, 10 % is 4 < 10 -> one window per class
    assert len(data.labeled_draw(Protocol(label_ratio=0.5, draw_by_subject=True), 0)) == 40
    drawn = data.labeled_draw(Protocol(label_ratio=0.1, draw_by_subject=True), 0)
    assert len(drawn) == 4 and sorted(zip(data.train.subject[drawn], data.train.y[drawn])) == \
        [(1, 0), (1, 1), (2, 0), (2, 1)]
