"""QAM over AWGN: the channel model of the homework (``chapters/homework.ipynb``).

Everything here is vectorised torch code and every random function takes a
``generator`` argument, so that a seeded run gives the same samples every time.

Conventions used throughout:

- **Bits** are float32 tensors of 0.0 and 1.0 (ready to be targets of
  ``nn.BCEWithLogitsLoss``); functions accept bool and integer bits as well.
- A symbol's ``k`` bits ``b0 b1 ... b(k-1)`` are written most significant first: the
  symbol's index in :attr:`QAM.points` is the binary number ``b0 b1 ... b(k-1)``.
- **Logits**: a detector returns one real number per bit, of shape
  ``[..., bits_per_symbol]``; ``logit > 0`` means "bit 1". The bit-wise MAP detector
  returns the exact log-likelihood ratio ``log P(b=1|y) - log P(b=0|y)``.
- **Noise**: ``n0`` is the *total* complex noise variance, ``N0/2`` per real dimension,
  with unit average symbol energy.

The closed-form bit error rate is the general expression of K. Cho and D. Yoon, "On the
general BER expression of one- and two-dimensional amplitude modulations", IEEE Trans.
Commun. 50(7), 2002.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# -- checks that turn bad input into a sentence a student understands ----------------


def check_bits_per_symbol(bits_per_symbol: int) -> int:
    """Return ``bits_per_symbol`` if a square QAM can carry it, raise otherwise."""
    if isinstance(bits_per_symbol, bool) or not isinstance(bits_per_symbol, int):
        raise TypeError(
            f"bits_per_symbol must be a whole number such as 4 (for 16-QAM), "
            f"got {bits_per_symbol!r} of type {type(bits_per_symbol).__name__}"
        )
    if bits_per_symbol <= 0 or bits_per_symbol % 2 != 0:
        raise ValueError(
            "16-QAM-style square constellations need an even number of bits per "
            "symbol, "
            f"got {bits_per_symbol}: use 2 (4-QAM), 4 (16-QAM), 6 (64-QAM) or 8 "
            "(256-QAM)"
        )
    return bits_per_symbol


def check_bits(bits: Tensor, name: str = "bits") -> Tensor:
    """Return ``bits`` as float32 0./1., raise if it holds anything but 0 and 1."""
    if not isinstance(bits, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(bits).__name__}")
    if bits.is_complex():
        raise TypeError(f"{name} must hold real 0s and 1s, got a complex tensor")
    if not bool(((bits == 0) | (bits == 1)).all()):
        bad = bits[(bits != 0) & (bits != 1)].flatten()[:3].tolist()
        raise ValueError(
            f"{name} must contain only 0 and 1, found values such as {bad}"
        )
    return bits.to(torch.float32)


def check_complex(received: Tensor, name: str = "received samples") -> Tensor:
    """Raise unless ``received`` is a complex tensor."""
    if not isinstance(received, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(received).__name__}")
    if not received.is_complex():
        raise TypeError(
            f"{name} must be a complex tensor (e.g. torch.complex64), got "
            f"{received.dtype}; "
            f"if you hold the real and imaginary parts separately, combine them with "
            f"torch.complex(real, imag)"
        )
    return received


def as_noise_variance(n0: float | Tensor, like: Tensor) -> Tensor:
    """``n0`` as a real tensor that broadcasts against ``like``, one value per frame.

    ``n0`` is a scalar, or a tensor whose shape equals the *leading* dimensions of
    ``like`` (for example ``[frames]`` for ``like`` of shape ``[frames, symbols]``);
    trailing dimensions of size one are appended so that it broadcasts. Raises on a
    negative, NaN or misshapen ``n0``.
    """
    real_dtype = like.real.dtype if like.is_complex() else like.dtype
    n0 = torch.as_tensor(n0, dtype=real_dtype, device=like.device)
    if n0.is_complex():
        raise TypeError("the noise variance n0 must be real, got a complex value")
    if bool((n0 < 0).any()) or bool(torch.isnan(n0).any()):
        raise ValueError(
            f"the noise variance n0 must be zero or positive, got values such as "
            f"{n0.flatten()[:3].tolist()}"
        )
    if tuple(n0.shape) != tuple(like.shape[: n0.dim()]):
        raise ValueError(
            "n0 must be a scalar or have one value per frame: its shape "
            f"{tuple(n0.shape)} "
            "must equal the leading dimensions of the samples' shape "
            f"{tuple(like.shape)}"
        )
    return n0.reshape(n0.shape + (1,) * (like.dim() - n0.dim()))


# -- the constellation ----------------------------------------------------------------


# A row of this many bytes can be moved as one element of this dtype (see lookup_rows).
_ROW_AS_ONE_ELEMENT = {
    1: torch.uint8,
    2: torch.int16,
    4: torch.int32,
    8: torch.int64,
    16: torch.complex128,
}


def lookup_rows(table: Tensor, indices: Tensor) -> Tensor:
    """``table[indices]`` for integer ``indices`` of any shape, via ``index_select``.

    Equal to advanced indexing, but several times faster on the CPU for large
    ``indices``; ``table`` is moved to the device of ``indices``.

    The trick, on the CPU: ``index_select`` copies a table of single numbers much faster
    than a table of rows. A row of :attr:`QAM.labels` (four float32 bits, 16 bytes) is
    therefore *viewed* as one complex128 number, those numbers are selected, and the
    result is viewed as float32 again. Only bytes are moved, so the values are exactly
    those of ``table[indices]``.
    """
    table = table.to(indices.device)
    flat_indices = indices.reshape(-1)
    row_shape = table.shape[1:]
    row_bytes = row_shape.numel() * table.element_size()
    wide = _ROW_AS_ONE_ELEMENT.get(row_bytes)
    if (
        table.dim() > 1
        and wide is not None
        and table.is_cpu
        and not table.requires_grad
    ):
        rows_in_memory = table.contiguous()
        if rows_in_memory.storage_offset() % row_shape.numel() != 0:
            rows_in_memory = rows_in_memory.clone()  # a view(wide) needs aligned rows
        as_numbers = (
            rows_in_memory.view(len(table), row_shape.numel()).view(wide).view(-1)
        )
        rows = as_numbers.index_select(0, flat_indices).view(table.dtype)
    else:
        rows = table.index_select(0, flat_indices)
    return rows.view(*indices.shape, *row_shape)


def gray_pam_levels(bits_per_axis: int) -> tuple[Tensor, Tensor]:
    """Reflected-Gray PAM on one axis: odd-integer levels and their bit labels.

    A label ``(c0, ..., c(m-1))`` gets the level
    ``(1 - 2*c0) * (2**(m-1) - (1 - 2*c1) * (2**(m-2) - ... (1 - 2*c(m-1)) * 1))``;
    for ``m = 2`` this is the course's map ``00 -> +1, 01 -> +3, 10 -> -1, 11 -> -3``.

    Returns ``levels`` (float64 ``[2**m]``, in label order) and ``labels``
    (float32 ``[2**m, m]``, row ``i`` the bits of ``i``, most significant first).
    """
    num_levels = 2**bits_per_axis
    index = torch.arange(num_levels)
    shifts = torch.arange(bits_per_axis - 1, -1, -1)
    labels = ((index[:, None] >> shifts) & 1).to(torch.float32)
    signs = 1.0 - 2.0 * labels.to(torch.float64)
    magnitude = torch.ones(num_levels, dtype=torch.float64)
    for j in range(bits_per_axis - 1, 0, -1):
        magnitude = 2 ** (bits_per_axis - j) - signs[:, j] * magnitude
    return signs[:, 0] * magnitude, labels


class QAM:
    """Gray-labelled square M-QAM with unit average energy (``M = 2**bits_per_symbol``).

    The bits of a symbol are interleaved over the axes: even-index bits ``b0, b2, ...``
    choose the real-axis level, odd-index bits ``b1, b3, ...`` the imaginary-axis level,
    each axis by the reflected-Gray PAM of :func:`gray_pam_levels`. For 16-QAM this is
    exactly the course's labelling (see ``chapters/homework.ipynb``); neighbouring
    points differ in exactly one bit.

    Attributes:
        bits_per_symbol: ``k``, even.
        order: ``M = 2**k``.
        points: complex64 ``[M]``, point ``i`` carries the bits ``labels[i]``.
        labels: float32 ``[M, k]``, the binary digits of ``i``, most significant first.
    """

    def __init__(self, bits_per_symbol: int = 4) -> None:
        self.bits_per_symbol = check_bits_per_symbol(bits_per_symbol)
        self.order = 2**bits_per_symbol
        bits_per_axis = bits_per_symbol // 2
        levels, axis_labels = gray_pam_levels(bits_per_axis)
        # average energy of the odd-integer grid: 2 (M - 1) / 3 (10 for 16-QAM)
        scale = math.sqrt(2 * (self.order - 1) / 3)
        self.axis_levels = (levels / scale).to(
            torch.float32
        )  # [L], in axis-label order
        self.axis_labels = axis_labels  # [L, k/2]

        index = torch.arange(self.order)
        shifts = torch.arange(bits_per_symbol - 1, -1, -1)
        self.labels = ((index[:, None] >> shifts) & 1).to(torch.float32)
        real_index = self._axis_index(self.labels[:, 0::2])
        imag_index = self._axis_index(self.labels[:, 1::2])
        self.points = torch.complex(
            self.axis_levels[real_index], self.axis_levels[imag_index]
        )

        # for slicing: the constellation index of the point at grid position
        # (real position, imaginary position), positions counted left to right 0..L-1
        position_of_axis_index = torch.argsort(torch.argsort(levels))
        real_position = position_of_axis_index[real_index]
        imag_position = position_of_axis_index[imag_index]
        side = 2**bits_per_axis
        self.index_by_position = torch.empty(side, side, dtype=torch.long)
        self.index_by_position[real_position, imag_position] = index

    def __repr__(self) -> str:
        return f"QAM(bits_per_symbol={self.bits_per_symbol})  # {self.order}-QAM"

    @staticmethod
    def _axis_index(axis_bits: Tensor) -> Tensor:
        """Binary number of per-axis bits ``[..., m]`` (most significant first)."""
        weights = 2 ** torch.arange(
            axis_bits.shape[-1] - 1, -1, -1, device=axis_bits.device
        )
        return (axis_bits.long() * weights).sum(-1)

    def bits_to_indices(self, bits: Tensor) -> Tensor:
        """Constellation index of each group of bits: ``[..., k]`` -> long ``[...]``."""
        bits = check_bits(bits)
        if bits.dim() == 0 or bits.shape[-1] != self.bits_per_symbol:
            raise ValueError(
                f"bits_to_indices wants bits of shape [..., {self.bits_per_symbol}] "
                f"(one row per symbol), got shape {tuple(bits.shape)}"
            )
        return self._axis_index(bits)

    def bits_to_symbols(self, bits: Tensor) -> Tensor:
        """Map a bit stream to symbols: ``[..., num_bits]`` -> complex64 ``[...,
        num_bits/k]``.

        Consecutive groups of ``k`` bits form one symbol (the first bit of a group is
        ``b0``). ``num_bits`` must be a multiple of ``k``.
        """
        bits = check_bits(bits)
        k = self.bits_per_symbol
        num_bits = bits.shape[-1] if bits.dim() > 0 else 0
        if num_bits == 0 or num_bits % k != 0:
            raise ValueError(
                f"{self.order}-QAM carries {k} bits per symbol, so the number of bits "
                f"(last dimension) must be a positive multiple of {k}; got {num_bits} "
                "bits "
                f"(shape {tuple(bits.shape)})"
            )
        groups = bits.reshape(*bits.shape[:-1], num_bits // k, k)
        return lookup_rows(self.points, self.bits_to_indices(groups))

    def symbols_to_bits(self, symbols: Tensor) -> Tensor:
        """Bits of symbols: float32 ``[..., num_symbols, k]``.

        ``symbols`` holds integer indices into :attr:`points`, or complex values, which
        are first mapped to the nearest constellation point (a hard decision). Flatten
        the last two dimensions (``.flatten(-2)``) to get the bit stream back.
        """
        if not isinstance(symbols, Tensor):
            raise TypeError(
                f"symbols must be a torch.Tensor, got {type(symbols).__name__}"
            )
        if symbols.is_complex():
            indices = self.nearest_indices(symbols)
        elif symbols.dtype in (
            torch.int8,
            torch.int16,
            torch.int32,
            torch.int64,
            torch.uint8,
        ):
            if bool(((symbols < 0) | (symbols >= self.order)).any()):
                raise ValueError(
                    f"symbol indices of {self.order}-QAM lie in 0..{self.order - 1}, "
                    "got "
                    f"values from {int(symbols.min())} to {int(symbols.max())}"
                )
            indices = symbols.long()
        else:
            raise TypeError(
                "symbols must be complex points or integer indices, got "
                f"{symbols.dtype}"
            )
        return lookup_rows(self.labels, indices)

    def nearest_indices(self, received: Tensor) -> Tensor:
        """Index of the nearest constellation point to each complex sample (long, same
        shape).

        Square QAM is a product of two PAMs, so the nearest point is found on each axis
        separately by rounding to the nearest level.
        """
        received = check_complex(received)
        side = self.index_by_position.shape[0]
        real_position = self._nearest_position(received.real)
        imag_position = self._nearest_position(received.imag)
        return lookup_rows(
            self.index_by_position.flatten(), real_position * side + imag_position
        )

    def _nearest_position(self, values: Tensor) -> Tensor:
        """Left-to-right position ``0..L-1`` of the nearest axis level to each value."""
        side = self.axis_levels.numel()
        spacing = float(self.axis_levels.max() - self.axis_levels.min()) / (side - 1)
        position = torch.round(values / spacing + (side - 1) / 2)
        return position.clamp(0, side - 1).long()


# -- the channel ----------------------------------------------------------------------


def ebn0_db_to_n0(
    ebn0_db: float | Tensor, bits_per_symbol: int, coderate: float = 1.0
) -> Tensor:
    """Noise variance for a given Eb/N0 in dB, with unit symbol energy.

    ``N0 = 1 / (10**(EbN0_dB / 10) * bits_per_symbol * coderate)``, the *total* complex
    noise variance (``N0/2`` per real dimension). Returns a float64 tensor of the shape
    of ``ebn0_db``.
    """
    check_bits_per_symbol(bits_per_symbol)
    if not coderate > 0:
        raise ValueError(f"the code rate must be positive, got {coderate}")
    ebn0 = 10 ** (torch.as_tensor(ebn0_db, dtype=torch.float64) / 10)
    return 1.0 / (ebn0 * bits_per_symbol * coderate)


def awgn(
    symbols: Tensor, n0: float | Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Complex additive white Gaussian noise: ``symbols + sqrt(n0) * z``, ``z ~ CN(0,
    1)``.

    ``n0`` is the total noise variance (``n0/2`` per real dimension): a scalar, or one
    value per frame, i.e. a tensor whose shape equals the leading dimensions of
    ``symbols`` (``[frames]`` for ``symbols`` of shape ``[frames, symbols_per_frame]``).
    """
    symbols = check_complex(symbols, "symbols")
    n0 = as_noise_variance(n0, symbols)
    noise = torch.randn(
        symbols.shape, dtype=symbols.dtype, device=symbols.device, generator=generator
    )
    # scale the real and imaginary parts in place (faster than a complex product)
    torch.view_as_real(noise).mul_(torch.sqrt(n0).unsqueeze(-1))
    return noise.add_(symbols)


# -- the closed form ------------------------------------------------------------------


def gaussian_q(x: Tensor) -> Tensor:
    """The Gaussian tail ``Q(x) = P(Z > x) = erfc(x / sqrt(2)) / 2``."""
    return 0.5 * torch.special.erfc(x / math.sqrt(2))


def closed_form_ber(ebn0_db: float | Tensor, bits_per_symbol: int = 4) -> Tensor:
    """Exact bit error rate of Gray-labelled square M-QAM over AWGN with nearest-point
    detection.

    Cho and Yoon (2002), eqs. (14)-(16) with ``I = J = sqrt(M)``: the BER is the average
    of the error probabilities of the ``log2(sqrt(M))`` bit positions of one axis,

    ``P_b = 1/log2(sqrt M) * sum_{k=1}^{log2 sqrt M} P(k)``, with

    ``P(k) = 2/sqrt(M) * sum_{i=0}^{(1 - 2^-k) sqrt(M) - 1} (-1)^floor(i 2^(k-1) / sqrt
    M)
    * (2^(k-1) - floor(i 2^(k-1) / sqrt M + 1/2)) * Q((2i + 1) sqrt(3 log2(M) Eb/N0 / (M
      - 1)))``.

    For 4-QAM it reduces to ``Q(sqrt(2 Eb/N0))``. Returns float64 of the shape of
    ``ebn0_db``.
    """
    check_bits_per_symbol(bits_per_symbol)
    side = 2 ** (bits_per_symbol // 2)  # sqrt(M), levels per axis
    order = side * side
    ebn0 = 10 ** (torch.as_tensor(ebn0_db, dtype=torch.float64) / 10)
    unit_distance = torch.sqrt(3 * bits_per_symbol * ebn0 / (order - 1))
    total = torch.zeros_like(ebn0)
    for k in range(1, bits_per_symbol // 2 + 1):
        half_period = 2 ** (k - 1)
        for i in range(side - side // 2**k):
            sign = (-1) ** ((i * half_period) // side)
            weight = half_period - (2 * i * half_period + side) // (2 * side)
            total = total + (2 / side) * sign * weight * gaussian_q(
                (2 * i + 1) * unit_distance
            )
    return total / (bits_per_symbol // 2)


# -- detectors ------------------------------------------------------------------------


def nearest_point_logits(
    qam: QAM, received: Tensor, hard_logit: float = 10.0
) -> Tensor:
    """Minimum-distance detection, as hard bit logits ``[..., k]``.

    Each received sample is decided to its nearest constellation point; the point's bits
    are returned as ``+hard_logit`` for 1 and ``-hard_logit`` for 0. The default 10 is
    finite (``sigmoid(10) = 0.99995``), so the logits can go into a loss without
    producing infinities.
    """
    bits = lookup_rows(qam.labels, qam.nearest_indices(received))
    return hard_logit * (2 * bits - 1)


def map_bit_logits(qam: QAM, received: Tensor, n0: float | Tensor) -> Tensor:
    """Exact bit-wise MAP detection: the log-likelihood ratio of every bit, ``[...,
    k]``.

    ``logit_j(y) = log sum_{s: b_j(s)=1} exp(-|y - s|^2 / N0)
    - log sum_{s: b_j(s)=0} exp(-|y - s|^2 / N0)`` (equally likely points), computed
      with log-sum-exp, no max-log approximation. Because ``|y - s|^2`` is the sum of a
      real-axis and an imaginary-axis term and every bit is carried by one axis only,
      the sums over points factor into sums over that axis's levels: the result is
      identical to summing over all ``M`` points, at a fraction of the cost.

    ``n0`` is the total noise variance: a scalar or one value per frame (see
    :func:`awgn`).
    """
    received = check_complex(received)
    n0 = as_noise_variance(n0, received)
    if bool((n0 == 0).any()):
        raise ValueError("MAP detection needs a positive noise variance n0, got 0")
    real_logits = _axis_map_logits(qam, received.real, n0)
    imag_logits = _axis_map_logits(qam, received.imag, n0)
    # interleave: b0 = real bit 0, b1 = imag bit 0, b2 = real bit 1, ...
    return torch.stack((real_logits, imag_logits), dim=-1).flatten(-2)


def _axis_map_logits(qam: QAM, values: Tensor, n0: Tensor) -> Tensor:
    """MAP logits of one axis's bits from that axis's real values: ``[...]`` -> ``[...,
    k/2]``."""
    levels = qam.axis_levels.to(values.device, values.dtype)
    level_axis = (-1,) + (1,) * values.dim()
    # log-likelihood of each level (per real dimension the variance is n0/2): -(x - a)^2
    # / n0;
    # levels first, so that the sums below run over a leading (fast) dimension
    log_likelihood = -((values - levels.view(level_axis)) ** 2) / n0  # [L, ...]
    ones, zeros = (
        _levels_with_bit(qam.axis_labels, 1),
        _levels_with_bit(qam.axis_labels, 0),
    )
    logits = _logsumexp_dim1(log_likelihood[ones]) - _logsumexp_dim1(
        log_likelihood[zeros]
    )
    return torch.movedim(logits, 0, -1)


def _levels_with_bit(axis_labels: Tensor, bit: int) -> Tensor:
    """``[m, L/2]``: for each axis bit ``j``, the levels whose label has bit ``j ==
    bit``."""
    return torch.stack(
        [torch.nonzero(column == bit).flatten() for column in axis_labels.T]
    )


def _logsumexp_dim1(values: Tensor) -> Tensor:
    """``log(sum(exp(values), dim=1))``, stably (the largest term is factored out)."""
    largest = values.amax(dim=1, keepdim=True)
    return (values - largest).exp().sum(dim=1).log() + largest.squeeze(1)


# -- measuring ------------------------------------------------------------------------


def hard_bits(logits_or_bits: Tensor) -> Tensor:
    """Decide bits: ``value > 0`` means 1 (so both logits and 0/1 bits work); float32.

    Probabilities (all values in [0, 1], not all 0 or 1) are refused, because
    thresholding them at 0 would turn every bit into a 1.
    """
    if not isinstance(logits_or_bits, Tensor):
        raise TypeError(
            "expected a torch.Tensor of logits or bits, got "
            f"{type(logits_or_bits).__name__}"
        )
    if logits_or_bits.is_complex():
        raise TypeError("expected real logits or bits, got a complex tensor")
    values = logits_or_bits
    if values.dtype != torch.bool and values.numel() > 0:
        is_bit = (values == 0) | (values == 1)
        if not bool(is_bit.all()) and bool(((values >= 0) & (values <= 1)).all()):
            raise ValueError(
                "these values all lie between 0 and 1, so they look like probabilities "
                "(a Sigmoid output), not logits: logit > 0 means bit 1. Pass logits "
                "(drop the final Sigmoid, train with nn.BCEWithLogitsLoss), or convert "
                "with torch.logit(p), or pass hard bits (p > 0.5)"
            )
    return (values > 0).to(torch.float32)


def bit_error_rate(logits_or_bits: Tensor, bits: Tensor) -> float:
    """Fraction of bits decided wrongly; ``logits_or_bits > 0`` is read as bit 1.

    Both tensors must have the same shape (e.g. ``[frames, symbols, k]``).
    """
    decisions = hard_bits(logits_or_bits)
    bits = check_bits(bits)
    if decisions.shape != bits.shape:
        raise ValueError(
            f"the decisions and the true bits must have the same shape, got "
            f"{tuple(decisions.shape)} and {tuple(bits.shape)}"
        )
    if bits.numel() == 0:
        raise ValueError("cannot measure a bit error rate on zero bits")
    return float((decisions != bits.to(decisions.device)).float().mean())
