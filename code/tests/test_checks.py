"""Tests of the exercise checker framework: verdicts for every kind of answer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ml4es import checks
from ml4es.checks import CheckFailed, Verdict, as_float, as_tensor, assert_close, call, checker


@checker("Exercise 0 (double)")
def check_double(function):
    inputs = torch.linspace(-1.0, 1.0, 5).reshape(5, 1)
    result = as_tensor(call(function, inputs, name="double"), "double(x)", shape=(5, 1))
    error = assert_close(result, 2 * inputs, "double(x)")
    return f"Largest difference {error:.1e}."


@checker("Exercise 0 (broken checker)")
def check_with_bug(value):
    return {}["missing"]


def stub(x):
    raise NotImplementedError


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv(checks.STRICT_ENV, raising=False)


def test_correct_answer_passes(capsys):
    verdict = check_double(lambda x: 2 * x)
    assert verdict.passed is True
    assert bool(verdict)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [stub, ..., None, lambda x: ..., lambda x: None])
def test_untouched_stub_not_implemented(answer):
    verdict = check_double(answer)
    assert verdict.passed is None
    assert checks.NOT_IMPLEMENTED in verdict.message
    assert not verdict


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda x: 3 * x, "differs from the reference"),
        (lambda x: (2 * x).reshape(-1)[:4], "has shape (4,), expected (5, 1)"),
        (lambda x: x * float("nan"), "NaN or infinite"),
        (lambda x: "twice", "is text ('twice'); expected numbers."),
        (lambda x: object(), "tensor or array of numbers"),
        (lambda x: 1 / 0, "raised ZeroDivisionError"),
        (42, "should be a function, but it is an int"),
        (lambda x: (2 * x).to(torch.complex64), "expected real numbers"),
        (lambda x: (2 * x, x), "a tuple of 2 items; expected one tensor"),
        (lambda x: [2 * x.requires_grad_(True)], "a list of 1 item;"),
    ],
)
def test_wrong_answer_says_why(answer, expected):
    verdict = check_double(answer)
    assert verdict.passed is False
    assert expected in verdict.message


@pytest.mark.parametrize(
    "answer",
    [
        lambda x: (2 * x).numpy(),
        lambda x: (2 * x).reshape(-1),
        lambda x: (2 * x).float(),
        lambda x: (2 * x).requires_grad_(True) * 1.0,
        lambda x: (2 * x).tolist(),
        lambda x: (2 * x).double().flip(0).numpy()[::-1],
    ],
)
def test_equivalent_answers_accepted(answer):
    assert check_double(answer).passed is True


def test_checker_bug_is_a_verdict():
    verdict = check_with_bug(1.0)
    assert verdict.passed is False
    assert "could not test this answer" in verdict.message
    assert "KeyError" in verdict.message


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv(checks.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="not implemented"):
        check_double(stub)
    with pytest.raises(AssertionError, match="differs"):
        check_double(lambda x: 3 * x)
    assert check_double(lambda x: 2 * x).passed is True


def test_verdict_text():
    assert str(Verdict("Exercise 1", True, "correct.")) == "[correct] Exercise 1: correct."
    assert str(Verdict("Exercise 1", False, "wrong.")).startswith("[wrong]")
    assert str(Verdict("Exercise 1", None, "not implemented yet.")).startswith("[ ]")


def test_as_float_accepts_scalars():
    assert as_float(np.float32(0.5), "alpha") == pytest.approx(0.5)
    assert as_float(torch.tensor([0.25], requires_grad=True), "alpha") == pytest.approx(0.25)
    assert as_float(3, "alpha") == 3.0


def test_as_float_rejects_vectors():
    with pytest.raises(CheckFailed, match=r"single number, but it has shape \(2,\)"):
        as_float([1.0, 2.0], "alpha")


@pytest.mark.parametrize("text", ["-12.3", b"1", ["1.0", "2.0"], np.array(["1"])])
def test_as_tensor_rejects_text(text):
    with pytest.raises(CheckFailed, match=r"`loss` is text \(.+\); expected numbers\. Remove the quotes"):
        as_tensor(text, "loss")


def test_as_tensor_tuple_of_numbers_hints_stack():
    with pytest.raises(CheckFailed, match=r"is a tuple of 2 items; expected one tensor\. Combine the numbers with torch\.stack"):
        as_tensor((torch.tensor(1.0), torch.tensor(2.0)), "lambdas")


def test_as_tensor_named_result_hints_field():
    result = torch.linalg.lstsq(torch.eye(3, 2, dtype=torch.float64), torch.ones(3, 1, dtype=torch.float64))
    with pytest.raises(CheckFailed, match=r"\(solution, residuals, rank, singular_values\); expected one tensor\. "
                                          r"Return the field the exercise asks for, such as `\.solution`"):
        as_tensor(result, "lambdas")


def test_as_tensor_named_result_without_solution():
    with pytest.raises(CheckFailed, match=r"\(values, indices\); expected one tensor\. .+ such as `\.values`"):
        as_tensor(torch.max(torch.ones(3, 2), dim=0), "largest")


def test_as_float_rejects_tuple_of_numbers():
    with pytest.raises(CheckFailed, match=r"`loss` is a tuple of 2 items; expected a single number\.$"):
        as_float((torch.tensor(1.0), torch.tensor(2.0)), "loss")


def test_as_tensor_rejects_text_in_object_array():
    with pytest.raises(CheckFailed, match="is text"):
        as_tensor(np.array(["1", 2], dtype=object), "loss")


def test_as_tensor_shortens_long_text():
    with pytest.raises(CheckFailed) as failure:
        as_tensor("9" * 100, "loss")
    assert "999..." in str(failure.value)
    assert "9" * 50 not in str(failure.value)


def test_call_passes_keywords():
    assert call(lambda a, b=1: a + b, 1, b=2) == 3


def test_relative_error():
    assert checks.relative_error(1.01, 1.0) == pytest.approx(0.01)
    assert checks.relative_error(0.5, 0.0) == 0.5


def test_verdict_not_displayed_twice():
    assert Verdict("Exercise 1", True, "correct.")._ipython_display_() is None


def test_checker_bug_logs_no_traceback(capsys):
    check_with_bug(1.0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out
    assert "Traceback" not in captured.err


def test_none_return_hints_at_return():
    verdict = check_double(lambda x: None)
    assert verdict.passed is None
    assert verdict.message == "not implemented yet: `double` returned None (did you forget `return`?)."


def test_none_return_message_is_one_sentence():
    def double(x):
        pass

    verdict = check_double(double)
    assert "Replace the `...`" not in verdict.message
    assert verdict.message.count(".") == 1


def test_as_tensor_accepts_negative_strides():
    values = np.arange(4.0)[::-1]

    assert as_tensor(values, "values").tolist() == [3.0, 2.0, 1.0, 0.0]


def test_as_tensor_read_only_array_no_warning():
    values = np.arange(4.0)
    values.flags.writeable = False

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = as_tensor(values, "values")

    assert tensor.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_as_tensor_copies_arrays():
    values = np.arange(4.0)

    as_tensor(values, "values").add_(1.0)

    assert values.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_detail_starts_a_sentence():
    @checker("Exercise 0 (detail)")
    def check_detail(value):
        return "the answer is close."

    assert check_detail(1).message == "correct. The answer is close."

    @checker("Exercise 0 (article)")
    def check_article(value):
        return "a batch of 2 comes out."

    assert check_article(1).message == "correct. A batch of 2 comes out."


@pytest.mark.parametrize("detail", ["z has shape (10, 2).", "pod_errors match.", "x0 is fine."])
def test_detail_keeps_code_names(detail):
    @checker("Exercise 0 (code name)")
    def check_code_name(value):
        return detail

    assert check_code_name(1).message == f"correct. {detail}"
