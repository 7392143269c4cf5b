"""The variables of a model inside an HDF5 file, in Keras 3's `.weights.h5` layout.

Layout (the same bytes-level structure Keras 3 writes, so files move both ways)::

    /vars                       group, attr name=<model.name>, no datasets
    /layers/<key>/vars/0, 1...  one group per layer in model order, attr name=<layer.name>
    /optimizer/vars/0, 1...     only for a compiled model: iteration (int32 scalar),
                                learning_rate (float32 scalar), then the slots

`<key>` is the snake_case class name, made unique within the model with `_1`, `_2`... (never
`layer.name`, which depends on how many layers the process created before). Datasets are
numbered by position and stored in the variable's own dtype.

Loading never assigns while reading: every dataset is checked (links, layout, declared size,
element type, shape) and read into a temporary array first; variables are assigned only once
everything that will be assigned has been validated, so a failed load leaves the model as it
was. Count and shape mismatches are collected over the whole model and reported once with
Keras' texts (or, with `skip_mismatch=True`, reported as a warning and skipped).
"""
import re
import warnings

import numpy as np

from . import h5_guard


def to_snake_case(name):
    """Keras' class-name-to-key rule: `"Conv1D"` -> `"conv1d"`, `"RMSprop"` -> `"rm_sprop"`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def model_layers(model):
    """The layers that own a group in the file: `model.layers` without any input layer."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def layer_keys(layers):
    """Group names for `layers`, in order: snake_case class names, repeats suffixed `_1`, `_2`..."""
    seen = {}
    keys = []
    for layer in layers:
        base = to_snake_case(type(layer).__name__)
        if base in seen:
            seen[base] += 1
            keys.append(f"{base}_{seen[base]}")
        else:
            seen[base] = 0
            keys.append(base)
    return keys


def variable_value(variable):
    """A NumPy view or copy of a variable (fastconv variable, NumPy array or array-like)."""
    if isinstance(variable, np.ndarray):
        return variable
    if hasattr(variable, "numpy"):
        return np.asarray(variable.numpy())
    return np.asarray(variable)


def _assign_variable(variable, value):
    if hasattr(variable, "assign"):
        variable.assign(value)
    elif isinstance(variable, np.ndarray):
        variable[...] = value
    else:  # pragma: no cover - every fastconv variable has one of the two
        raise TypeError(f"Cannot assign to variable of type {type(variable).__name__}")


def _variable_names(layer, count):
    names = [getattr(w, "name", None) for w in getattr(layer, "weights", [])]
    if len(names) != count or any(not isinstance(n, str) for n in names):
        names = [f"variable_{i}" for i in range(count)]
    # Keras prints a variable's short name ("kernel"), not its path ("conv1d/kernel").
    return [n.rsplit("/", 1)[-1] for n in names]


def object_label(obj):
    """How an object is named in loading errors, e.g. `<Dense name=dense, built=True>`."""
    cls = type(obj).__name__
    if hasattr(obj, "built") and hasattr(obj, "weights"):
        return f"<{cls} name={obj.name}, built={bool(obj.built)}>"
    return f"<{cls} name={getattr(obj, 'name', '?')}>"


def _optimizer(model):
    opt = getattr(model, "optimizer", None)
    if opt is None or not hasattr(opt, "variables"):
        return None
    return opt


# ----------------------------------------------------------------------------------------- write


def write_weights(model, h5file):
    """Write every variable of a built `model` (and its optimizer, once compiled) into `h5file`."""
    root = h5file.create_group("vars")
    root.attrs["name"] = model.name
    layers = model_layers(model)
    layers_group = h5file.create_group("layers")
    for key, layer in zip(layer_keys(layers), layers):
        group = layers_group.create_group(key).create_group("vars")
        group.attrs["name"] = layer.name
        for i, value in enumerate(layer.get_weights()):
            group.create_dataset(str(i), data=np.asarray(value))
    opt = _optimizer(model)
    if opt is not None:
        group = h5file.create_group("optimizer").create_group("vars")
        group.attrs["name"] = opt.name
        for i, variable in enumerate(opt.variables):
            group.create_dataset(str(i), data=np.asarray(variable_value(variable)))


# ------------------------------------------------------------------------------------------ read


class _Mismatch(Exception):
    """A count/shape/dtype problem of one object: collected, reported once for the whole model."""


class LoadingMismatchError(ValueError):
    """Variables in the file do not fit the model (Keras' "A total of N objects..." error)."""


def _vars_group(h5file, path):
    """`<path>/vars` if present (else None), through the link and type checks of `h5_guard`."""
    parent = h5file
    if path:
        if not h5_guard.has_member(h5file, path.split("/")[0]):
            return None
        try:
            parent = h5_guard.get_group(h5file, path)
        except KeyError:
            return None
    if not h5_guard.has_member(parent, "vars"):
        return None
    return h5_guard.get_group(parent, "vars")


def _member_count(group):
    return 0 if group is None else len(group)


def _check_kind(stored, target, what):
    """Refuse, before reading, data that cannot become the variable's dtype without loss of kind."""
    if target.kind == "f" and stored.kind != "f":
        raise _Mismatch(f"{what} holds {target} values, but the file stores {stored}.")
    if target.kind in "iu" and stored.kind not in "iu":
        raise _Mismatch(f"{what} holds {target} values, but the file stores {stored}.")


def _cast(value, target, what):
    if target.kind in "iu" and value.size:
        info = np.iinfo(target)
        if value.min() < info.min or value.max() > info.max:
            raise _Mismatch(f"{what} holds {target} values, but the file stores values outside "
                            "that range.")
    # Floats cast like Keras' `variable.assign` (float64 or float16 files load into float32).
    return value.astype(target, copy=False)


def _read_values(group, targets, label, owner, names):
    """Read datasets "0".."n-1" of `group`, each checked against the (shape, dtype) in `targets`
    before anything is read (so allocations are bounded by the model's own variables)."""
    values = []
    for i, (shape, dtype) in enumerate(targets):
        target = np.dtype(dtype)
        what = f"{label} variable {i} ('{names[i]}')"
        try:
            dataset = h5_guard.get_dataset(group, str(i))
        except KeyError:
            raise _Mismatch(
                f"{label} expects a dataset named '{i}' in its group, but the file has "
                f"{sorted(group.keys())}.") from None
        if tuple(dataset.shape) != tuple(shape):
            raise _Mismatch(
                "The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={tuple(shape)}, "
                f"Received: value.shape={tuple(dataset.shape)}. Target variable: "
                f"<Variable path={owner}/{names[i]}, shape={tuple(shape)}, dtype={target}>")
        _check_kind(dataset.dtype, target, what)
        values.append(_cast(h5_guard.read_array(dataset), target, what))
    return values


def read_weights(model, h5file, skip_mismatch=False):
    """Validate `h5file` against `model` and return a callable that performs the assignment.

    Everything is read into temporaries here; nothing in `model` changes until the returned
    callable runs. Count/shape/dtype mismatches raise one `ValueError` listing every object that
    could not be loaded (with `skip_mismatch=True`: a warning, and those objects are skipped).
    Link, layout and size violations raise `ValueError` at once, whatever `skip_mismatch` says.
    """
    pending = []      # (apply function, values)
    errors = []       # (object label, message)

    root = _vars_group(h5file, "")
    if _member_count(root):
        errors.append((object_label(model), (
            f"Layer '{model.name}' expected 0 variables, but received {_member_count(root)} "
            "variables during loading. Expected: []")))

    layers = model_layers(model)
    keys = layer_keys(layers)
    for key, layer in zip(keys, layers):
        current = [np.asarray(w) for w in layer.get_weights()]
        names = _variable_names(layer, len(current))
        group = _vars_group(h5file, f"layers/{key}")
        received = _member_count(group)
        try:
            if received != len(current):
                raise _Mismatch(
                    f"Layer '{layer.name}' expected {len(current)} variables, but received "
                    f"{received} variables during loading. Expected: {names}")
            values = _read_values(
                group, [(w.shape, w.dtype) for w in current], f"Layer '{layer.name}'",
                layer.name, names) if current else []
        except _Mismatch as exc:
            errors.append((object_label(layer), str(exc)))
            continue
        if current:
            pending.append((layer.set_weights, values))

    # Layer groups the model has no layer for: Keras ignores them silently; fastconv reports
    # those that hold variables, since loading such a file can only be a mistake.
    if h5_guard.has_member(h5file, "layers"):
        for extra in sorted(set(h5_guard.get_group(h5file, "layers").keys()) - set(keys)):
            count = _member_count(_vars_group(h5file, f"layers/{extra}"))
            if count:
                errors.append((f"<layers/{extra}>", (
                    f"The file holds {count} variables for layer group 'layers/{extra}', but "
                    f"model '{model.name}' has no such layer. Its layer groups are: {keys}")))

    opt = _optimizer(model)
    if opt is not None:
        variables = list(opt.variables)
        group = _vars_group(h5file, "optimizer")
        received = _member_count(group)
        if received != len(variables):
            msg = (f"Skipping variable loading for optimizer '{opt.name}', because it has "
                   f"{len(variables)} variables whereas the saved optimizer has {received} "
                   "variables. ")
            if not variables:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=4)
        else:
            current = [variable_value(v) for v in variables]
            try:
                names = [str(getattr(v, "name", f"variable_{i}")).rsplit("/", 1)[-1]
                         for i, v in enumerate(variables)]
                values = _read_values(
                    group, [(v.shape, v.dtype) for v in current], f"Optimizer '{opt.name}'",
                    opt.name, names)
            except _Mismatch as exc:
                errors.append((object_label(opt), str(exc)))
            else:
                def assign_all(vals, variables=variables):
                    for variable, value in zip(variables, vals):
                        _assign_variable(variable, value)
                pending.append((assign_all, values))

    if errors:
        label, first = errors[0]
        msg = (f"A total of {len(errors)} objects could not be loaded. Example error message for "
               f"object {label}:\n\n{first}\n\nList of objects that could not be loaded:\n"
               f"[{', '.join(lab for lab, _ in errors)}]")
        if not skip_mismatch:
            raise LoadingMismatchError(msg)
        warnings.warn(msg, stacklevel=4)

    def apply():
        for assign, values in pending:
            assign(values)

    return apply
