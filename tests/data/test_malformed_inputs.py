"""Property tests (issue 31, item 6): generated malformed ``.npz`` files, CSV folders and label-map
YAML files either load, or raise an :class:`AutoharError` whose message is one plain line; never
another exception (which the CLI would print as a traceback)."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from automl_har.data.labels import LabelMap
from automl_har.data.loaders.custom import load_custom
from automl_har.data.registry import WindowOptions
from automl_har.errors import AutoharError, DataFormatError

#: tiny budgets: the suite runs on 2 shared cores
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


#: how numpy 2 spells its scalars in repr: np.float64(nan), np.int64(2), np.str_('a')
NUMPY_REPR = re.compile(r"np\.(float|int|uint|bool|str|bytes|complex)\w*\(")


def write_npz(path, **overrides):
    """A valid file of 12 windows (acc, 3 classes, 3 subjects) with ``overrides`` replacing arrays."""
    arrays = {"X_acc": np.ones((12, 8, 3), np.float32), "y": np.array(["walk", "sit", "run"] * 4),
              "subject": np.repeat(np.arange(3), 4), **overrides}
    np.savez(path, **arrays)
    return path


def loads_or_refuses(load):
    """``load()``'s result, or None when it raised an AutoharError with a one-line message that
    shows no numpy repr; any other exception fails the property."""
    try:
        return load()
    except AutoharError as err:
        message = str(err)
        assert message.strip() and "\n" not in message, message
        assert not NUMPY_REPR.search(message) and "allow_pickle" not in message, message
        return None


# ------------------------------------------------------------------------------ .npz files
NPZ_KEYS = ["X_acc", "X_gyro", "y", "subject", "classes", "rate_acc", "rate_gyro", "channels_acc", "rate_imu",
            "timestamp", "rate_hz", "acc", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
DTYPES = st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64, "U3", "S2"])


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = np.dtype(draw(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    elements = st.floats(allow_nan=True, allow_infinity=True, width=32) if dtype.kind in "fc" else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def npz_contents(draw) -> dict[str, np.ndarray]:
    """A mostly well-formed file (so the checks past the first are reached) with some arrays
    replaced, added or dropped."""
    n = draw(st.integers(0, 9))
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    content = {"X_acc": rng.normal(size=(n, 8, 3)).astype(np.float32), "y": np.arange(n) % 3,
               "subject": np.arange(n) % 4, "rate_acc": np.float64(50.0)}
    for key in draw(st.lists(st.sampled_from(NPZ_KEYS), max_size=4)):
        content[key] = draw(arrays())
    for key in draw(st.lists(st.sampled_from(sorted(content)), max_size=2)):
        content.pop(key, None)
    return content


def damaged(data: bytes, cuts: list[tuple[int, int]]) -> bytes:
    """``data`` with each ``(position, byte)`` written into it and cut at the last position."""
    out = bytearray(data)
    for position, byte in cuts:
        out[position % len(out)] = byte
    return bytes(out[: max(1, cuts[-1][0] % (len(out) + 1))]) if cuts else bytes(out)


@FEW
@given(content=npz_contents())
def test_generated_npz_files_load_or_give_one_line(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    np.savez(path, **content)
    data = loads_or_refuses(lambda: load_custom(path, WindowOptions()))
    if data is not None:  # what loads is a valid dataset
        data.validate()
        assert len(data) > 0


@FEW
@given(cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       compressed=st.booleans())
def test_damaged_npz_bytes_load_or_give_one_line(tmp_path_factory, cuts, compressed):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, X_acc=np.ones((6, 8, 3), np.float32),
                                                      y=np.arange(6) % 2, subject=np.arange(6) % 3)
    path = tmp_path_factory.mktemp("npz") / "damaged.npz"
    path.write_bytes(damaged(buffer.getvalue(), cuts))
    loads_or_refuses(lambda: load_custom(path, WindowOptions()))


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    path = write_npz(tmp_path / "objects.npz", y=np.array(["walk", 1, None] * 4, dtype=object))
    with pytest.raises(DataFormatError, match=r"array 'y' stores Python objects \(dtype=object\)") as caught:
        load_custom(path, WindowOptions())
    assert "allow_pickle" not in str(caught.value)


def test_a_zip_member_that_is_not_an_array_is_named(tmp_path):
    path = write_npz(tmp_path / "extra.npz")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(DataFormatError, match="member 'notes.txt' is not a .npy array"):
        load_custom(path, WindowOptions())


# ------------------------------------------------------------------------------ CSV folders
COLUMNS = ["timestamp", "label", "subject", "acc_x", "acc_y", "acc_z", "gyro_x", "Label", "accx", "_x", "", "acc_x"]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**12, 10**12).map(str),
    st.sampled_from(["", "walk", "sit", "nan", "inf", "1e400", "-0", '"', "a,b", " 3 ", "\t"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=4),
)


def good_cell(column: str, row: int) -> str:
    """What a well-formed recording at 10 Hz holds in ``column`` on ``row``."""
    if column.lower() == "timestamp":
        return f"{row / 10:.2f}"
    if column.lower() == "label":
        return "walk" if row < 30 else "sit"
    return "1" if column == "subject" else f"{(row * 7 % 11) / 3:.3f}"


@st.composite
def csv_texts(draw) -> str:
    """A mostly well-formed recording (so the checks past parsing are reached) with a few cells
    replaced, now and then a row of any length, or a header of any columns."""
    good = ["timestamp", "acc_x", "acc_y", "label"]
    header = draw(st.sampled_from([good, good + ["subject"], good[1:], None]))
    header = header or draw(st.lists(st.sampled_from(COLUMNS), max_size=6))
    rows = [[good_cell(column, i) for column in header] for i in range(draw(st.integers(0, 60)))]
    for row, column, cell in draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 9), CELLS), max_size=3)):
        if rows and header:
            rows[row % len(rows)][column % len(header)] = cell
    if draw(st.integers(0, 4)) == 0:
        rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(CELLS, max_size=len(header) + 2)))
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))


@FEW
@given(first=csv_texts(), second=st.one_of(st.none(), csv_texts()),
       window_s=st.sampled_from([None, 0.5, 2.0]), rate_hz=st.sampled_from([None, 10.0, 25.0]))
def test_generated_csv_folders_load_or_give_one_line(tmp_path_factory, first, second, window_s, rate_hz):
    folder = tmp_path_factory.mktemp("csv")
    (folder / "a.csv").write_text(first)
    if second is not None:
        (folder / "b.csv").write_text(second)
    data = loads_or_refuses(lambda: load_custom(folder, WindowOptions(window_s=window_s, rate_hz=rate_hz)))
    if data is not None:
        data.validate()
        assert len(data) > 0


@FEW
@given(raw=st.binary(max_size=200))
def test_csv_files_of_any_bytes_load_or_give_one_line(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("csv")
    (folder / "a.csv").write_bytes(raw)
    loads_or_refuses(lambda: load_custom(folder, WindowOptions()))


# ------------------------------------------------------------------------------ label maps
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
                    st.sampled_from(["walk", "sit", "run", "watch", "synthetic", "acc", "gyro", "acc+gyro", ""]))
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(SCALARS, inner, max_size=3)), max_leaves=8)
MAP_KEYS = st.sampled_from(["classes", "datasets", "inputs", "exclude_subjects", "extra"])


@st.composite
def label_map_texts(draw) -> str:
    """YAML of maps with the right keys and any values (or, now and then, any text at all)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=60))
    raw = {"classes": ["walk", "sit"], "datasets": {"synthetic": {"class_0": "walk", "class_1": "sit"}}}
    for key in draw(st.lists(MAP_KEYS, max_size=3)):
        raw[key] = draw(TREES)
    if draw(st.booleans()):
        raw["datasets"] = {"synthetic": draw(st.dictionaries(SCALARS, SCALARS, max_size=4))}
    return yaml.safe_dump(raw, allow_unicode=True)


@pytest.fixture(scope="module")
def two_classes():
    from automl_har.data.loaders.synthetic import make_synthetic

    return make_synthetic(n_windows=12, n_classes=2, n_subjects=2, rate_hz=25.0, window_s=1.0, seed=0)


@FEW
@given(text=label_map_texts())
def test_generated_label_maps_load_or_give_one_line(tmp_path_factory, two_classes, text):
    path = tmp_path_factory.mktemp("maps") / "map.yaml"
    path.write_text(text)
    label_map = loads_or_refuses(lambda: LabelMap.from_yaml(path))
    if label_map is not None:  # a map that loads applies, or says why not, in one line
        mapped = loads_or_refuses(lambda: label_map.apply(two_classes, "synthetic"))
        if mapped is not None:
            assert mapped.classes == list(label_map.classes)


def test_a_label_map_that_is_not_valid_yaml_says_where(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("classes: [walk, sit\ndatasets: {}\n")
    with pytest.raises(DataFormatError, match=r"map\.yaml is not valid YAML \(.* at line \d+, column \d+\)"):
        LabelMap.from_yaml(path)
