"""`Model.summary()`: Keras 3's table, drawn without any terminal library."""
import math

import numpy as np

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(num_bytes):
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def _count(weights):
    return int(sum(math.prod(w.shape) for w in weights))


def _memory(weights):
    seen = {}
    for w in weights:
        seen[id(w)] = w
    return sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in seen.values())


def _ratio_reduce(total, ratios, maximums, values):
    # Same integer split as the table renderer Keras uses (Python's round: half to even).
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return list(values)
    remaining = total
    out = []
    for r, m, v in zip(ratios, maximums, values):
        if r and total_ratio > 0:
            d = min(m, round(r * remaining / total_ratio))
            out.append(v - d)
            remaining -= d
            total_ratio -= r
        else:
            out.append(v)
    return out


def _wrap(text, inner):
    """Cell lines: greedy word wrap; a word wider than the cell is cut with an ellipsis."""
    lines, current = [], ""
    for word in text.split(" "):
        if len(word) > inner:
            word = word[:max(inner - 1, 0)] + "…"
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= inner:
            current += " " + word
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def _pad(text, inner, justify):
    if justify == "right":
        return " " + text.rjust(inner) + " "
    if justify == "center":
        left = (inner - len(text)) // 2
        return " " + " " * left + text + " " * (inner - len(text) - left) + " "
    return " " + text.ljust(inner) + " "


def _table(header, rows, widths, aligns):
    def line(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def row(cells, sep):
        wrapped = [_wrap(c, w - 2) for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        out = []
        for k in range(height):
            parts = [_pad(w[k] if k < len(w) else "", width - 2, a)
                     for w, width, a in zip(wrapped, widths, aligns)]
            out.append(sep + sep.join(parts) + sep)
        return out

    out = [line("┏", "┳", "┓", "━")] + row(header, "┃") + [line("┡", "╇", "┩", "━")]
    for i, cells in enumerate(rows):
        if i:
            out.append(line("├", "┼", "┤", "─"))
        out.extend(row(cells, "│"))
    out.append(line("└", "┴", "┘", "─"))
    return out


def _format_shape(layer):
    shape = getattr(layer, "_output_shape", None)
    if shape is None:
        return "?"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False,
                  layer_range=None):
    header = ["Layer (type)", "Output Shape", "Param #"]
    aligns = ["left", "left", "right"]
    default_length = 88
    positions = positions or [0.45, 0.80, 1.0]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        aligns.append("center")
    import shutil

    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    widths, current = [], 0
    for pos in positions:
        w = int(pos) - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(w)
        current += w
    available = line_length - (len(widths) + 1)
    if sum(widths) > available:
        widths = _ratio_reduce(sum(widths) - available, [1] * len(widths), widths, widths)

    layers = model.layers
    if layer_range is not None:
        names = [layer.name for layer in layers]
        if len(layer_range) != 2:
            raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                             f"layer_range = {layer_range} of length {len(layer_range)}")
        lo = names.index(layer_range[0]) if layer_range[0] in names else None
        hi = names.index(layer_range[1]) if layer_range[1] in names else None
        if lo is None or hi is None:
            raise ValueError(f"Passed layer_range does not match any layer names: {layer_range}")
        layers = layers[lo:hi + 1]
    rows = []
    for layer in layers:
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})", _format_shape(layer), params]
        if show_trainable:
            cells.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows.append(cells)
    lines = [f'Model: "{model.name}"'] + _table(header, rows, widths, aligns)
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    opt = model.optimizer if getattr(model, "compiled", False) else None
    opt_vars = list(opt.variables) if opt is not None and opt.built else None
    t_count, nt_count = _count(trainable), _count(non_trainable)
    t_mem, nt_mem = _memory(trainable), _memory(non_trainable)
    o_count = _count(opt_vars) if opt_vars is not None else 0
    o_mem = _memory(opt_vars) if opt_vars is not None else 0
    lines.append(f" Total params: {t_count + nt_count + o_count:,} "
                 f"({readable_memory_size(t_mem + nt_mem + o_mem)})")
    lines.append(f" Trainable params: {t_count:,} ({readable_memory_size(t_mem)})")
    lines.append(f" Non-trainable params: {nt_count:,} ({readable_memory_size(nt_mem)})")
    if opt_vars is not None:
        lines.append(f" Optimizer params: {o_count:,} ({readable_memory_size(o_mem)})")
    text = "\n".join(lines)
    if print_fn is None:
        print(text)
    else:
        print_fn(text + "\n")
