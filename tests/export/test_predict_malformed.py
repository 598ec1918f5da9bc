"""Property tests (issue 31, item 6): ``autohar predict`` on generated malformed CSV and ``.npz``
recordings either classifies them or stops with exactly one ``error:`` line and a non-zero exit;
never a traceback."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from automl_har.cli.main import app

#: tiny budgets: every example runs the command (and loads the TorchScript model) once
FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]  # the bundle's (synthetic data)
NUMPY_REPR = re.compile(r"np\.(float|int|uint|bool|str|bytes|complex)\w*\(")


@pytest.fixture(scope="module")
def bundle(searched, tmp_path_factory):
    spec, _ = searched
    out = tmp_path_factory.mktemp("malformed") / "bundle"
    result = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def predict_classifies_or_gives_one_line(bundle, recording, rate=None):
    """Run ``autohar predict``; a success prints the table, a failure one ``error:`` line."""
    args = ["predict", str(bundle), str(recording)] + ([] if rate is None else ["--rate", str(rate)])
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert "windows" in result.output  # the table's title: "<file>: N windows"
        return
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert not NUMPY_REPR.search(errors[0]) and "allow_pickle" not in errors[0], errors[0]


# ------------------------------------------------------------------------------ CSV recordings
CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**9, 10**9).map(str),
                  st.sampled_from(["", "walk", "nan", "1e400", '"', "a,b", " 2 "]), st.text(max_size=3))


@st.composite
def csv_recordings(draw) -> str:
    """The bundle's channels at 25 Hz for 1 to 5 s, with columns dropped, renamed or repeated and a
    few cells replaced."""
    header = ["timestamp", *CHANNELS, "label"]
    if draw(st.integers(0, 2)) == 0:
        position = draw(st.integers(0, len(header) - 1))
        header[position] = draw(st.sampled_from(["time", "ax", "acc_x", "Timestamp", "", "subject", "gyro_z"]))
    if draw(st.integers(0, 3)) == 0:
        header = header[: draw(st.integers(0, len(header)))]
    rows = [[f"{i / 25:.4f}" if c.lower() == "timestamp" else ("walk" if c == "label" else f"{np.sin(i + j):.3f}")
             for j, c in enumerate(header)] for i in range(draw(st.integers(0, 125)))]
    for row, column, cell in draw(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 99), CELLS), max_size=3)):
        if rows and header:
            rows[row % len(rows)][column % len(header)] = cell
    return "\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n"


@FEW
@given(text=csv_recordings(), rate=st.sampled_from([None, None, 25.0, 0.001, 1e9]))
def test_predict_on_generated_csv_classifies_or_gives_one_line(bundle, tmp_path_factory, text, rate):
    path = tmp_path_factory.mktemp("csv") / "rec.csv"
    path.write_text(text)
    predict_classifies_or_gives_one_line(bundle, path, rate)


# ------------------------------------------------------------------------------ npz recordings
@st.composite
def any_array(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64, np.int16, np.bool_, np.complex64, "U2"])))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=130))
    elements = st.floats(allow_nan=True, allow_infinity=True, width=32) if dtype.kind in "fc" else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def npz_recordings(draw) -> dict[str, np.ndarray]:
    """One ``(T,)`` array per channel or one ``(T, 3)`` per modality, optional timestamp or
    rate_hz; then arrays replaced, added or dropped."""
    n = draw(st.integers(0, 125))
    signal = np.sin(np.arange(n) / 3.0).astype(np.float32)
    if draw(st.booleans()):
        content = {c: signal + i for i, c in enumerate(CHANNELS)}
    else:
        content = {m: np.stack([signal] * 3, axis=1) for m in ("acc", "gyro")}
    extra = draw(st.sampled_from(["timestamp", "rate_hz", None]))
    if extra == "timestamp":
        content["timestamp"] = np.arange(n) / 25.0
    elif extra == "rate_hz":
        content["rate_hz"] = np.float64(25.0)
    keys = sorted(content) + ["timestamp", "rate_hz", "acc", "acc_x", "label"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=2)):
        content[key] = draw(any_array())
    for key in draw(st.lists(st.sampled_from(sorted(content)), max_size=1)):
        content.pop(key, None)
    return content


@FEW
@given(content=npz_recordings(), rate=st.sampled_from([None, 25.0]))
def test_predict_on_generated_npz_classifies_or_gives_one_line(bundle, tmp_path_factory, content, rate):
    path = tmp_path_factory.mktemp("npz") / "rec.npz"
    np.savez(path, **content)
    predict_classifies_or_gives_one_line(bundle, path, rate)


@FEW
@given(cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3))
def test_predict_on_damaged_npz_bytes_gives_one_line(bundle, tmp_path_factory, cuts):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{c: np.zeros(100, np.float32) for c in CHANNELS}, rate_hz=np.float64(25.0))
    data = bytearray(buffer.getvalue())
    for position, byte in cuts:
        data[position % len(data)] = byte
    path = tmp_path_factory.mktemp("npz") / "damaged.npz"
    path.write_bytes(bytes(data[: max(1, cuts[0][0] % (len(data) + 1))]))
    predict_classifies_or_gives_one_line(bundle, path, 25.0)
