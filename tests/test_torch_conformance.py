"""optbook's optimizers run as torch's own optimizer tests run theirs.

1. torch's configurations: every CPU configuration that torch's internal ``optim_db``
   lists for each optimizer with a torch counterpart, in float32 and float64, 50 steps,
   plain, with a closure and with the configuration in a second parameter group,
   bitwise equal to torch (parameters and state).
2. Inputs torch accepts that a plain implementation easily gets wrong: complex
   parameters (a complex number is a pair of reals, ``view_as_real``), a checkpoint
   whose ``step`` is a plain number, one-element tensor learning rates and betas that
   are not 0-d; and what torch refuses (mixed float/tensor betas) refused too.

``optim_db`` is internal to torch: if it is missing or changes shape, its test skips and
says so; the project's own grids (test_sgd.py, test_adam.py, ...) still run.
"""

from __future__ import annotations

import contextlib
import copy
import io

import pytest
import torch
from adabelief_pytorch import AdaBelief as ReferenceAdaBelief

from optbook.optimizers import TORCH_REFERENCES, AdaBelief, Adam, AdamW
from optbook.optimizers.base import IMPLEMENTATION_SWITCHES

PAIRS = list(TORCH_REFERENCES.items())
IDS = [ours.__name__ for ours, _ in PAIRS]
# Optimizers that take any dense real or complex tensor (torch's SparseAdam, Adafactor and
# Muon refuse complex parameters, and so does optbook: test_after_adamw.py).
GENERAL = [(o, r) for o, r in PAIRS if o.__name__ not in ("SparseAdam", "Adafactor", "Muon")]
GENERAL_IDS = [ours.__name__ for ours, _ in GENERAL]
STEPS = 50


def _optim_db_configs() -> list:
    try:
        from torch.testing._internal.common_optimizers import optim_db
    except Exception as error:  # internal module: absent, or needs a test-only package
        return [
            pytest.param(
                None,
                None,
                None,
                marks=pytest.mark.skip(
                    reason=f"torch's internal optim_db is not importable ({error!r}); "
                    "the project's own grids still run"
                ),
            )
        ]
    by_class = {info.optim_cls: info for info in optim_db}
    configs = []
    for ours, reference in PAIRS:
        info = by_class.get(reference)
        if info is None:
            continue
        try:
            inputs = info.optim_inputs_func(device="cpu", dtype=torch.float32)
        except TypeError:
            inputs = info.optim_inputs_func(device="cpu")
        for optim_input in inputs:
            kwargs = dict(optim_input.kwargs)
            if any(kwargs.get(switch) for switch in IMPLEMENTATION_SWITCHES):
                continue  # optbook refuses the fast paths (test_optimizer_contract)
            configs.append(
                pytest.param(
                    ours, reference, kwargs, id=f"{ours.__name__}-{optim_input.desc}"
                )
            )
    if not configs:
        return [
            pytest.param(
                None,
                None,
                None,
                marks=pytest.mark.skip(
                    reason="torch's internal optim_db changed shape: no configuration"
                ),
            )
        ]
    return configs


class _EmbeddingModel(torch.nn.Module):
    """A sparse gradient for SparseAdam: an embedding table read at 4 of its 10 rows."""

    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(10, 4, sparse=True)
        self.table.weight.data.mul_(0.5)

    def forward(self, x):
        rows = (x[:, 0].abs() * 7).long() % 10
        return torch.tanh(self.table(rows) + x).sum(dim=1, keepdim=True)


def _model(dtype: torch.dtype, kind: str = "dense", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "sparse":
        return _EmbeddingModel().to(dtype)
    bias = kind != "matrices"  # Muon takes weight matrices only
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6, bias=bias), torch.nn.Tanh(), torch.nn.Linear(6, 1, bias=bias)
    ).to(dtype)


MODEL_KIND = {"SparseAdam": "sparse", "Muon": "matrices"}


def _copy_kwargs(kwargs: dict) -> dict:
    return {
        k: (v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))
        for k, v in kwargs.items()
    }


def _run(cls, kwargs: dict, dtype: torch.dtype, *, closure: bool, grouped: bool):
    kind = MODEL_KIND.get(cls.__name__, "dense")
    model = _model(dtype, kind)
    params = list(model.parameters())
    if grouped and len(params) == 1:
        groups = [{"params": params, **_copy_kwargs(kwargs)}]
        optimizer = cls(groups)
    elif grouped:
        half = len(params) // 2
        groups = [
            {"params": params[:half]},
            {"params": params[half:], **_copy_kwargs(kwargs)},
        ]
        optimizer = cls(groups)
    else:
        optimizer = cls(params, **_copy_kwargs(kwargs))
    generator = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        x = torch.randn(8, 4, generator=generator, dtype=dtype)
        y = torch.randn(8, 1, generator=generator, dtype=dtype)

        def compute_loss(x=x, y=y):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss

        if closure:
            optimizer.step(compute_loss)
        else:
            compute_loss()
            optimizer.step()
    return params, optimizer


def _assert_bitwise_equal(ours_run, reference_run) -> None:
    (ours_params, ours_opt), (ref_params, ref_opt) = ours_run, reference_run
    for mine, theirs in zip(ours_params, ref_params, strict=True):
        assert torch.equal(mine, theirs), (mine - theirs).abs().max()
        mine_state, their_state = ours_opt.state[mine], ref_opt.state[theirs]
        assert set(mine_state) == set(their_state)
        for key, value in their_state.items():
            assert torch.equal(
                torch.as_tensor(mine_state[key]), torch.as_tensor(value)
            ), key


@pytest.mark.parametrize(("ours", "reference", "kwargs"), _optim_db_configs())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mode", ["plain", "closure", "group"])
def test_torch_optim_db_configurations_bitwise(ours, reference, kwargs, dtype, mode):
    options = {"closure": mode == "closure", "grouped": mode == "group"}
    _assert_bitwise_equal(
        _run(ours, kwargs, dtype, **options), _run(reference, kwargs, dtype, **options)
    )


# -- complex parameters: pairs of real numbers -----------------------------------------
def _complex_run(make, steps: int = 30):
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(3, 2, dtype=torch.complex64, generator=generator)
    param = torch.nn.Parameter(start.clone())
    optimizer = make([param])
    for _ in range(steps):
        param.grad = torch.randn(3, 2, dtype=torch.complex64, generator=generator)
        optimizer.step()
    return param.detach(), optimizer


COMPLEX_SETTINGS = [{}, {"lr": 0.1}, {"weight_decay": 0.1}, {"maximize": True}]
EXTRA_SETTINGS = {
    "Adam": [{"amsgrad": True}],
    "AdamW": [{"amsgrad": True}],
    "RMSprop": [{"centered": True, "momentum": 0.9}],
    "SGD": [{"momentum": 0.9, "nesterov": True}],
}


@pytest.mark.parametrize(("ours", "reference"), GENERAL, ids=GENERAL_IDS)
def test_complex_parameters_equal_torch(ours, reference):
    for settings in COMPLEX_SETTINGS + EXTRA_SETTINGS.get(ours.__name__, []):
        mine, mine_opt = _complex_run(lambda p, s=settings: ours(p, **s))
        theirs, _ = _complex_run(lambda p, s=settings: reference(p, **s))
        assert mine.is_complex()
        assert torch.equal(mine, theirs), (ours.__name__, settings)
        for state in mine_opt.state.values():  # (none for SGD without momentum)
            for value in state.values():
                if isinstance(value, torch.Tensor) and value.dim() > 0:
                    assert value.is_complex()  # the state stays complex, like torch's


def _quiet_reference_adabelief(params, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return ReferenceAdaBelief(params, print_change_log=False, **kwargs)


@pytest.mark.parametrize(
    "settings",
    [{}, {"rectify": False}, {"amsgrad": True}],
    ids=["default", "no-rectify", "amsgrad"],
)
def test_complex_adabelief_equals_its_package_on_pairs_of_reals(settings):
    """AdaBelief's package squares a complex residual as a complex number; optbook, like
    torch for its own optimizers, treats a complex entry as two reals. So the
    reference is the package run on the real view of the same parameters."""
    mine, _ = _complex_run(lambda p: AdaBelief(p, **settings), steps=40)
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(3, 2, dtype=torch.complex64, generator=generator)
    pairs = torch.nn.Parameter(torch.view_as_real(start.clone()).clone())
    optimizer = _quiet_reference_adabelief([pairs], **settings)
    for _ in range(40):
        grad = torch.randn(3, 2, dtype=torch.complex64, generator=generator)
        pairs.grad = torch.view_as_real(grad).clone()
        optimizer.step()
    assert torch.equal(torch.view_as_real(mine), pairs.detach())


# -- older checkpoints: a plain-number step --------------------------------------------
@pytest.mark.parametrize(("ours", "reference"), GENERAL, ids=GENERAL_IDS)
def test_a_plain_number_step_in_a_state_dict_is_loaded_as_torch_loads_it(
    ours, reference
):
    settings = {"momentum": 0.9} if ours.__name__ == "SGD" else {}
    runs = []
    for cls in (ours, reference):
        torch.manual_seed(0)
        param = torch.nn.Parameter(torch.randn(4))
        optimizer = cls([param], **settings)
        param.grad = torch.ones(4)
        optimizer.step()
        state_dict = optimizer.state_dict()
        if "step" in state_dict["state"][0]:
            state_dict["state"][0]["step"] = float(state_dict["state"][0]["step"])
        optimizer.load_state_dict(state_dict)
        for _ in range(3):
            param.grad = torch.full((4,), 0.5)
            optimizer.step()
        runs.append((param.detach(), optimizer.state[param]))
    (mine, my_state), (theirs, their_state) = runs
    assert torch.equal(mine, theirs)
    if "step" in their_state:
        assert torch.is_tensor(my_state["step"]) and torch.is_tensor(
            their_state["step"]
        )
        assert float(my_state["step"]) == float(their_state["step"]) == 4.0


# -- one-element tensors that are not 0-d ----------------------------------------------
@pytest.mark.parametrize(("ours", "reference"), GENERAL, ids=GENERAL_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_a_one_element_tensor_learning_rate_works_as_in_torch(ours, reference, dtype):
    def make(cls):
        return lambda p: cls(p, lr=torch.tensor([0.01]))

    mine = _run_real(make(ours), dtype)
    theirs = _run_real(make(reference), dtype)
    assert torch.equal(mine, theirs)


@pytest.mark.parametrize("cls", [Adam, AdamW], ids=["Adam", "AdamW"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("amsgrad", [False, True], ids=["plain", "amsgrad"])
def test_one_element_tensor_betas_and_lr_work_as_in_torch(cls, dtype, amsgrad):
    reference = TORCH_REFERENCES[cls]

    def make(c):
        return lambda p: c(
            p,
            lr=torch.tensor([0.01]),
            amsgrad=amsgrad,
            betas=(torch.tensor([0.9]), torch.tensor([0.99])),
        )

    assert torch.equal(_run_real(make(cls), dtype), _run_real(make(reference), dtype))


def _run_real(make, dtype: torch.dtype, steps: int = 60) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    param = torch.nn.Parameter(torch.randn(5, dtype=dtype, generator=generator))
    optimizer = make([param])
    for _ in range(steps):
        param.grad = torch.randn(5, dtype=dtype, generator=generator)
        optimizer.step()
    return param.detach()


@pytest.mark.parametrize("cls", [Adam, AdamW], ids=["Adam", "AdamW"])
def test_mixed_float_and_tensor_betas_are_refused_as_torch_refuses_them(cls):
    param = torch.nn.Parameter(torch.zeros(2))
    for betas in [(0.9, torch.tensor(0.99)), (torch.tensor(0.9), 0.99)]:
        with pytest.raises(ValueError, match="both floats or both Tensors"):
            TORCH_REFERENCES[cls]([param], betas=betas)
        with pytest.raises(ValueError, match="both floats or both Tensors"):
            cls([param], betas=betas)


def test_adamw_parameter_groups_carry_only_torch_adamws_keys():
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    ours = AdamW([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])
    reference = torch.optim.AdamW(
        [{"params": params[:1]}, {"params": params[1:], "lr": 0.1}]
    )
    for mine, theirs in zip(ours.param_groups, reference.param_groups, strict=True):
        assert set(mine) - set(theirs) == set()
    assert (
        "bias_correction" in Adam(params).param_groups[0]
    )  # optbook's documented extra
    with pytest.raises(TypeError, match="bias_correction"):
        AdamW(params, bias_correction=False)
