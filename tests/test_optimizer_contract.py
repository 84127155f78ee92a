"""What every from-scratch optimizer promises, checked against its torch.optim reference.

- the same constructor: parameter names, kinds and defaults (annotations aside);
- torch's implementation switches (foreach, fused, ...) accepted at their defaults, refused on;
- a negative learning rate refused in clear words, in the constructor and in add_param_group;
- the same state: a state_dict saved by torch loads into ours mid-run (and back), and both
  then go on identically.

The per-optimizer files (test_sgd.py, test_adam.py, ...) prove the updates equal over many
settings; this file checks the contract once for all of them.
"""

from __future__ import annotations

import copy
import inspect

import pytest
import torch

from optbook.optimizers import TORCH_REFERENCES
from optbook.optimizers.base import IMPLEMENTATION_SWITCHES

PAIRS = list(TORCH_REFERENCES.items())
IDS = [ours.__name__ for ours, _ in PAIRS]

# Documented extras, each a keyword-only switch whose default reproduces the reference.
EXTRA_PARAMETERS = {"Adam": {"bias_correction": True}}


def parameters_of(cls) -> list[tuple[str, inspect._ParameterKind, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(cls.__init__).parameters.values()
    ]


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=IDS)
def test_same_constructor_as_reference(ours, reference):
    extras = EXTRA_PARAMETERS.get(ours.__name__, {})
    mine = [p for p in parameters_of(ours) if p[0] not in extras]
    assert mine == parameters_of(reference)
    for name, default in extras.items():
        parameter = inspect.signature(ours.__init__).parameters[name]
        assert (
            parameter.kind is inspect.Parameter.KEYWORD_ONLY
            and parameter.default == default
        )


def a_parameter(cls) -> torch.nn.Parameter:
    """A parameter the optimizer takes: Muon takes weight matrices only."""
    return torch.nn.Parameter(
        torch.zeros(2, 2) if cls.__name__ == "Muon" else torch.zeros(2)
    )


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=IDS)
def test_implementation_switches_are_refused_when_on(ours, reference):
    switches = [
        s
        for s in IMPLEMENTATION_SWITCHES
        if s in inspect.signature(reference.__init__).parameters
    ]
    if (
        not switches
    ):  # SparseAdam, Muon: torch has one implementation, and so has optbook
        assert not set(IMPLEMENTATION_SWITCHES) & set(
            inspect.signature(ours).parameters
        )
        return
    param = a_parameter(ours)
    for switch in switches:
        ours(
            [param], **{switch: None if switch in ("foreach", "fused") else False}
        )  # defaults are fine
        with pytest.raises(ValueError, match=f"{switch}=True"):
            ours([param], **{switch: True})


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=IDS)
def test_negative_learning_rate_is_refused(ours, reference):
    param = a_parameter(ours)
    with pytest.raises(ValueError, match=r"lr \(the learning rate[^)]*\) must be >= 0"):
        ours([param], lr=-0.1)
    optimizer = ours([param], lr=0.1)
    with pytest.raises(ValueError, match=r"lr \(the learning rate[^)]*\) must be >= 0"):
        optimizer.add_param_group({"params": [a_parameter(ours)], "lr": -1.0})


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=IDS)
def test_sparse_gradients_are_refused_in_words(ours, reference):
    embedding = torch.nn.Embedding(5, 2, sparse=ours.__name__ != "SparseAdam")
    optimizer = ours(embedding.parameters(), lr=0.1)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        optimizer.step()  # SparseAdam: the other way round, dense gradients are refused


def _losses_after_switch(
    first, second, steps: int = 30
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run ``first`` for ``steps`` steps, move its state into ``second`` and into a fresh
    ``first``, and run both copies for ``steps`` more steps on the same parameters' copies."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    data = [
        (torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 4, dtype=torch.float64))
        for _ in range(2 * steps)
    ]

    sparse = "SparseAdam" in (first.__name__, second.__name__)

    def run(optimizer, param, batches):
        for x, y in batches:
            optimizer.zero_grad()
            if sparse:  # rows of an embedding table, as SparseAdam needs
                rows = (x[:, 0].abs() * 10).long() % 4
                prediction = torch.nn.functional.embedding(rows, param, sparse=True)
                ((prediction - y[:, :3]) ** 2).mean().backward()
            else:
                ((x @ param.T - y) ** 2).mean().backward()
            optimizer.step()

    optimizer = first([weight], lr=1e-2)
    run(optimizer, weight, data[:steps])
    saved = optimizer.state_dict()
    params = [torch.nn.Parameter(weight.detach().clone()) for _ in range(2)]
    continued = []
    for cls, param in zip((first, second), params, strict=True):
        fresh = cls([param], lr=1e-2)
        fresh.load_state_dict(
            copy.deepcopy(saved)
        )  # loading may share tensors with `saved`
        run(fresh, param, data[steps:])
        continued.append(param.detach())
    return continued[0], continued[1]


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=IDS)
def test_state_dict_is_interchangeable_with_torch(ours, reference):
    same_class, other_class = _losses_after_switch(reference, ours)
    torch.testing.assert_close(other_class, same_class, rtol=1e-12, atol=0)
    same_class, other_class = _losses_after_switch(ours, reference)
    torch.testing.assert_close(other_class, same_class, rtol=1e-12, atol=0)
