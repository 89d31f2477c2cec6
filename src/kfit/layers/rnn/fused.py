"""A whole sequence through torch's fused recurrent kernel, with Keras's masking semantics.

Keras skips a masked time step: the state stays as it was and the output repeats the previous
step's output (zeros before the first valid step, or zeros at every masked step with
`zero_output_for_mask`). That is the same as running the cell on the valid steps alone, so a
masked sequence runs through the fused kernel as follows, with no device-to-host sync and no
Python loop over time:

1. Each row's valid steps are moved to the front, in order (a stable sort of the mask).
2. The kernel runs over the compacted rows. Steps past a row's valid count compute values
   that nothing reads, except for an LSTM's final cell state, see 4.
3. The output at step t is the compacted output number `(valid steps up to t) - 1`, gathered;
   the final `h` is the output of the last valid step (the initial state for a fully masked row).
4. An LSTM's final cell state `c` is not among the outputs. For it the trailing steps are
   made no-ops on `c`: an extra input feature, 1 on those steps, enters the input gate with
   weight -1e4 and the forget gate with +1e4, so the gates are exactly 0 and 1 there
   (`c' = 1*c + 0*g = c`) and pass back exactly zero gradient. The kernel's final `c` is then
   the cell state after the last valid step.
"""

from __future__ import annotations

import torch

from kfit.backend import torch_compat

__all__ = ["run_fused"]

# Saturates a sigmoid to exactly 0 or 1 in float32, float16 and bfloat16 alike (and fits float16).
_SATURATE = 1e4


def run_fused(
    mode: str,
    weights: list[torch.Tensor],
    has_biases: bool,
    inputs: torch.Tensor,
    states: list[torch.Tensor] | None,
    mask: torch.Tensor | None,
    *,
    return_sequences: bool,
    zero_output_for_mask: bool,
    need_states: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
    """Runs `inputs` (batch, time, features), already in processing order, through one layer.

    Args:
        mode: `torch_compat.fused_rnn`'s mode (`"lstm"`, `"gru"`, `"rnn_tanh"`, `"rnn_relu"`).
        weights: The kernel's weights in torch's layout.
        has_biases: Whether `weights` ends with the two biases.
        inputs: `(batch, time, features)`.
        states: The initial states, `(batch, units)` each (`[h, c]` for an LSTM); None for
            zeros.
        mask: `(batch, time)` booleans (True = valid step), in processing order, or None.
        return_sequences: Whether the caller wants the output at every step.
        zero_output_for_mask: Whether masked steps output zeros instead of the previous output.
        need_states: Whether the caller reads the final states (`return_state`, `stateful`).

    Returns:
        The last output, the outputs `(batch, time, units)` (None unless `return_sequences`)
        and the final states (an empty list unless `need_states`).

    Example:
        >>> w = [torch.full((1, 1), 0.5), torch.ones(1, 1)]
        >>> x, mask = torch.ones(1, 3, 1), torch.tensor([[True, False, True]])
        >>> last, seq, (h,) = run_fused("rnn_relu", w, False, x, [torch.zeros(1, 1)], mask,
        ...                             return_sequences=True, zero_output_for_mask=False,
        ...                             need_states=True)
        >>> seq.flatten().tolist(), h.flatten().tolist()
        ([0.5, 0.5, 1.0], [1.0])
    """
    if states is None:
        zeros = inputs.new_zeros(1, inputs.shape[0], weights[1].shape[1])
        hx: tuple[torch.Tensor, ...] = (zeros, zeros) if mode == "lstm" else (zeros,)
    else:
        hx = tuple(s.unsqueeze(0) for s in states)
    if mask is None:
        outputs, final = torch_compat.fused_rnn(mode, inputs, hx, weights, has_biases)
        carried = [s.squeeze(0) for s in final] if need_states else []
        return outputs[:, -1], outputs if return_sequences else None, carried

    batch, steps = mask.shape
    features = inputs.shape[-1]
    mask = mask.bool()
    count = mask.sum(dim=1)
    order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)
    compact = inputs.gather(1, order.unsqueeze(-1).expand(batch, steps, features))
    track_carry = mode == "lstm" and need_states
    if track_carry:
        units = weights[1].shape[1]
        trailing = torch.arange(steps, device=mask.device) >= count.unsqueeze(1)
        trailing = trailing.unsqueeze(-1)
        # Zeroed, so that what padding holds (even NaN) cannot reach `c` through 0 * x.
        compact = torch.where(trailing, 0.0, compact)
        compact = torch.cat([compact, trailing.to(compact.dtype)], dim=-1)
        force = weights[0].new_zeros(4 * units, 1)
        force[:units] = -_SATURATE  # input gate
        force[units : 2 * units] = _SATURATE  # forget gate
        weights = [torch.cat([weights[0], force], dim=1), *weights[1:]]
    outputs, final = torch_compat.fused_rnn(mode, compact, hx, weights, has_biases)
    units = outputs.shape[-1]

    last_valid = (count - 1).clamp(min=0).view(batch, 1, 1).expand(batch, 1, units)
    h_last = outputs.gather(1, last_valid).squeeze(1)
    seen_any = (count > 0).unsqueeze(1)
    sequence = None
    if return_sequences:
        position = mask.cumsum(dim=1) - 1
        index = position.clamp(min=0).unsqueeze(-1).expand(batch, steps, units)
        keep = mask if zero_output_for_mask else position >= 0
        sequence = torch.where(keep.unsqueeze(-1), outputs.gather(1, index), 0.0)
        last = sequence[:, -1]
    else:
        keep_last = mask[:, -1:] if zero_output_for_mask else seen_any
        last = torch.where(keep_last, h_last, 0.0)
    finals: list[torch.Tensor] = []
    if need_states:
        finals.append(torch.where(seen_any, h_last, hx[0].squeeze(0)))
        if track_carry:
            finals.append(final[1].squeeze(0))
    return last, sequence, finals
