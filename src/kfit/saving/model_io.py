"""Whole-model files: `.keras` archives holding a model's config, weights and optimizer state.

A `.keras` file is a zip archive with these members:

| member | content |
|---|---|
| `metadata.json` | `{"format": "kfit.keras", "format_version": 1, "kfit_version", "date_saved"}` |
| `config.json` | the model's `serialize_keras_object` record (`module`, `class_name`, `config`, `registered_name`; a `Sequential` lists a full record per layer), the input shapes needed to create lazily built weights, and the compile config (optimizer record, loss and metric identifiers) |
| `model.weights.safetensors` | the `state_dict()`, exactly as `save_weights` writes it |
| `optimizer.safetensors` | the optimizer's slots and counters (only for a compiled model) |

Every class and function the config names is found as `deserialize_keras_object` finds it:
kfit's built-in layers and models in the registry (as `"keras>Dense"`, ...); user classes
(custom layers, subclassed models, losses, metrics) and functions by their registered name
(`@register_keras_serializable`) or their class name, in `custom_objects` or the active
`custom_object_scope`. Archives written before records had `registered_name` (layers listed as
`{"class_name", "config"}`, losses without `module`) load the same way.

Loading never unpickles or evaluates anything, and saving writes the archive to a temporary
file renamed into place, so an interrupted save leaves the previous file intact. Before
anything is extracted, the members' declared sizes must add up to at most
`max(MIN_INFLATE_LIMIT, MAX_INFLATE_RATIO * archive size)` (64 MiB, 32): kfit stores tensors
uncompressed, so a genuine archive inflates to about its own size, and a zip bomb is refused.
"""

from __future__ import annotations

import datetime
import inspect
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

import torch

from kfit.saving import safetensors_io
from kfit.saving.atomic import atomic_write, staging_directory
from kfit.saving.checkpoint import optimizer_state, restore_optimizer_state
from kfit.saving.object_registration import (
    BUILTIN_PACKAGE,
    custom_object_scope,
    get_registered_name,
    get_registered_object,
)
from kfit.saving.serialization_lib import (
    deserialize_keras_object,
    find_class,
    serialize_keras_object,
)
from kfit.saving.weights import (
    assign_tensors,
    check_overwrite,
    load_state,
    module_state,
    save_state,
)

if TYPE_CHECKING:  # for annotations only: kfit.models imports this package to register itself
    from kfit.models.model import Model

__all__ = ["compile_from_config", "get_compile_config", "layer_record", "load_model", "rebuild_layer", "save_model"]

SUPPORTED_EXTENSIONS = (".keras",)
FORMAT = "kfit.keras"
FORMAT_VERSION = 1
_METADATA = "metadata.json"
_CONFIG = "config.json"
_WEIGHTS = "model.weights.safetensors"
_OPTIMIZER = "optimizer.safetensors"
# Weight files that look like model files to a reader in a hurry.
_WEIGHT_EXTENSIONS = (".weights.h5", ".safetensors")

# Limits on what loading inflates, checked against the members' declared sizes before anything
# is extracted (and enforced while copying). kfit stores tensors uncompressed and deflates only
# the small JSON members, so a genuine archive inflates to about its own size; 32 times it, and
# never less than 64 MiB, leaves room for any real config while refusing a zip bomb.
MAX_INFLATE_RATIO = 32
MIN_INFLATE_LIMIT = 64 * 1024**2


def _check_extension(filepath: Any, action: str) -> str:
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else None
    if isinstance(path, str) and path.endswith(SUPPORTED_EXTENSIONS):
        return path
    if isinstance(path, str) and path.endswith(_WEIGHT_EXTENSIONS):
        fix = (
            "that is a weights-only file: use model.save_weights()"
            if action == "save"
            else "that is a weights-only file: build the model in code, then call "
            "model.load_weights()"
        )
    else:
        fix = "rename it, e.g. 'model.keras'"
    raise ValueError(
        f"Expected `filepath` to end in one of {SUPPORTED_EXTENSIONS} to {action} a whole model "
        f"(weights-only files use {_WEIGHT_EXTENSIONS}). Received: filepath={filepath!r} "
        f"(of type {type(filepath).__name__}); {fix}."
    )


# ---------------------------------------------------------------------------- model config
def _kfit_class(name: str) -> Any:
    """kfit's built-in class `name` (`Layer`, `Sequential`, ...), found in the registry.

    kfit.layers and kfit.models import kfit.saving to register their classes, so kfit.saving
    looks those classes up instead of importing them back.
    """
    return get_registered_object(f"{BUILTIN_PACKAGE}>{name}")


def _entry(obj: torch.nn.Module, where: str) -> dict[str, Any]:
    """The `serialize_keras_object` record of a layer or model, checked to be rebuildable."""
    cls = type(obj)
    if not isinstance(obj, _kfit_class("Layer")) or (
        cls is _kfit_class("Model") and getattr(obj, "_wrapped", False)
    ):
        raise ValueError(
            f"Expected every part of the model that must be rebuilt from its config to be a "
            f"kfit layer or model. Received: {where} = {cls.__module__}.{cls.__name__}, a torch "
            "module without a Keras config. Save its weights with model.save_weights() and "
            "rebuild it in code, or wrap it in a kfit.layers.Layer subclass whose "
            "get_config() returns its constructor arguments."
        )
    try:
        record = serialize_keras_object(obj)
        json.dumps(record)
    except (TypeError, ValueError) as e:
        config = obj.get_config()
        raise TypeError(
            f"Expected {where}.get_config() to return values that can be saved: JSON values, "
            f"functions defined with `def`, or objects with get_config() ({e}). Received: "
            f"config={config!r} (of type {type(config).__name__}). Return numbers, strings, "
            "lists and dicts, and serialize other objects with "
            "kfit.saving.serialize_keras_object()."
        ) from e
    sequential = _kfit_class("Sequential")
    if isinstance(obj, sequential):
        # Sequential.get_config lists its kfit layers as bare {"class_name", "config"} and
        # leaves torch modules out: record every layer in full instead, so that registered
        # classes load without custom_objects and a torch module in the stack is refused.
        layers = [_entry(layer, f"{where}.layers[{i}]") for i, layer in enumerate(obj.layers)]
        if getattr(cls, "get_config", None) is sequential.get_config:
            first = record["config"]["layers"][:1]
            starts_with_input = bool(first) and first[0].get("class_name") == "InputLayer"
            record["config"]["layers"] = first + layers if starts_with_input else layers
    return record


def _layer_input_shape(layer: Any) -> list[int | None] | None:
    """The input shape a built layer was created for, when the layer records it."""
    if layer._declared_input_shape is not None:
        return list(layer._declared_input_shape)
    input_dim = getattr(layer, "input_dim", None)
    if isinstance(input_dim, int):
        return [None, input_dim]
    return None


def _build_config(model: torch.nn.Module) -> dict[str, Any]:
    """Shapes that let `load_model` create lazily built weights before loading them."""
    layer_cls, model_cls = _kfit_class("Layer"), _kfit_class("Model")
    shapes: dict[str, list[int | None]] = {}
    for path, module in model.named_modules():
        if not path or not isinstance(module, layer_cls) or isinstance(module, model_cls):
            continue
        owns_weights = any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False)
        )
        shape = _layer_input_shape(module) if module.built and owns_weights else None
        if shape is not None:
            shapes[path] = shape
    declared = model._declared_input_shape if isinstance(model, layer_cls) else None
    return {"input_shape": list(declared) if declared else None, "layer_input_shapes": shapes}


def _resolve(entry: Mapping[str, Any], what: str) -> Any:
    # The bare {"class_name", "config"} layer entries of older archives were kfit built-ins
    # or keys of custom_objects; give them a kfit module so that both are searched.
    cls = find_class(entry if "module" in entry else {**entry, "module": "kfit"})
    if cls is not None:
        return cls
    class_name = entry.get("class_name")
    raise ValueError(
        f"Expected the saved {what} class to be a kfit built-in, a class registered with "
        "@kfit.saving.register_keras_serializable(), or a key of `custom_objects`. Received: "
        f"class_name={class_name!r} (of type {type(class_name).__name__}), which is none of "
        f"these. Pass custom_objects={{{class_name!r}: {class_name}}} to load_model(), or "
        "register the class and import the module that defines it before loading."
    )


def _inherits(cls: type, name: str) -> bool:
    """Whether `cls` uses `Layer`'s (or `Model`'s, or `Sequential`'s) own
    `get_config`/`from_config` rather than an override. `Model`'s differ from `Layer`'s only for a graph, which `_deserialize` sends
    to `from_config` itself."""
    attribute = getattr(cls, name, None)
    attribute = getattr(attribute, "__func__", attribute)
    for base_name in ("Layer", "Model", "Sequential"):
        base = _kfit_class(base_name).__dict__.get(name)
        if base is not None and attribute is getattr(base, "__func__", base):
            return True
    return False


def _construct(cls: type[Any], config: dict[str, Any], class_name: str) -> Any:
    """Calls `cls.from_config(config)`, with a Keras-style message when the config does not fit."""
    uses_default = _inherits(cls, "get_config") and _inherits(cls, "from_config")
    if uses_default:
        # A subclass that keeps the default get_config saved only its name and trainable
        # flag; pass those its __init__ accepts and set the others afterwards.
        parameters = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        kwargs = {k: v for k, v in config.items() if takes_any or k in parameters}
    try:
        if not uses_default:
            return cls.from_config(config)
        obj = cls(**kwargs)
        if "name" in config:
            obj.name = config["name"]
        if config.get("trainable") is False:
            obj.trainable = False
        return obj
    except TypeError as e:
        raise TypeError(
            f"Could not rebuild {class_name} from its saved config ({e}). Received: "
            f"config={config!r} (of type dict). Give {class_name} a get_config() that returns "
            "its __init__ arguments, and a from_config() classmethod when __init__ needs more "
            "than cls(**config)."
        ) from e


def _deserialize(entry: Any, input_shape: Any = None) -> Any:
    """Rebuilds a layer or model record; classes are looked up in the active scope too."""
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"a layer entry must be a dict with 'class_name', got {entry!r}")
    class_name = entry["class_name"]
    cls = _resolve(entry, "layer or model")
    config = dict(entry.get("config") or {})
    if (
        isinstance(cls, type)
        and issubclass(cls, _kfit_class("Model"))
        and "input_layers" in config
        and "layers" in config
    ):
        # A functional model (or a subclass built from inputs and outputs): its graph.
        try:
            return cls.from_config(config)  # type: ignore[attr-defined]
        except TypeError as e:
            raise TypeError(f"Could not rebuild {class_name} from its saved graph config ({e}).") from e
    rebuild_stack = (
        isinstance(cls, type)
        and issubclass(cls, _kfit_class("Sequential"))
        and _inherits(cls, "from_config")
    )
    if not rebuild_stack:
        return _construct(cls, config, class_name)
    layers: list[torch.nn.Module] = []
    records = config.get("layers", [])
    # Keras lists a Sequential's InputLayer first; kfit's records start at the first layer.
    starts_with_input = bool(records) and records[0].get("class_name") == "InputLayer"
    if input_shape is not None and not starts_with_input:
        layers.append(_kfit_class("InputLayer")(shape=tuple(input_shape[1:])))
    layers.extend(_deserialize(layer) for layer in records)
    return cls(layers=layers, name=config.get("name"))


def layer_record(layer: torch.nn.Module, where: str = "layer") -> dict[str, Any]:
    """The full `serialize_keras_object` record of a layer or model, checked to be rebuildable.

    What a functional model's config lists for each of its layers. A `Sequential` inside gets
    a full record for each of its own layers too, so it loads without `custom_objects`.

    Raises:
        ValueError: for a torch module without a Keras config.
        TypeError: when a `get_config()` returns values that cannot be saved.

    Example:
        >>> import kfit
        >>> record = layer_record(kfit.layers.Dense(2))
        >>> record["module"], record["class_name"]
        ('keras.layers', 'Dense')
    """
    return _entry(layer, where)


def rebuild_layer(record: Mapping[str, Any]) -> Any:
    """Rebuilds a layer or model from `layer_record`'s output (or Keras's layer record).

    Classes are found as `load_model` finds them (registry, active `custom_object_scope`).
    A `Sequential` starts with an InputLayer of its recorded `build_config` input shape.

    Example:
        >>> import kfit
        >>> rebuild_layer(layer_record(kfit.layers.Dense(2, name="out"))).name
        'out'
    """
    build_config = record.get("build_config") or {}
    return _deserialize(dict(record), build_config.get("input_shape"))


def _build(model: torch.nn.Module, build_config: Mapping[str, Any]) -> None:
    """Creates the weights of layers that would otherwise wait for their first input."""
    layer_cls = _kfit_class("Layer")
    for path, shape in (build_config.get("layer_input_shapes") or {}).items():
        layer = model.get_submodule(path)
        if isinstance(layer, layer_cls) and not layer.built:
            layer._build_from_input(torch.zeros([1 if d is None else d for d in shape]))
    for module in model.modules():
        if isinstance(module, layer_cls) and not module.trainable:
            # A frozen model or layer froze only the weights that existed when it was
            # constructed; freeze the ones built since.
            module.trainable = False


def _unbuilt_owners(model: torch.nn.Module, names: list[str]) -> list[str]:
    """Paths of unbuilt layers that the saved weights `names` belong to."""
    layer_cls = _kfit_class("Layer")
    owners = []
    for path, module in model.named_modules():
        unbuilt = path and isinstance(module, layer_cls) and not module.built
        if unbuilt and any(name.startswith(path + ".") for name in names):
            owners.append(f"{path} ({type(module).__name__})")
    return owners


# ---------------------------------------------------------------------------- compile config
class _Unserializable(Exception):
    pass


def _serialize_identifier(value: Any, what: str) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_serialize_identifier(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _serialize_identifier(v, what) for k, v in value.items()}
    if inspect.isclass(value):
        # compile() takes a class as well as an instance; its name resolves on load as a
        # string identifier does.
        return get_registered_name(value)
    try:
        return serialize_keras_object(value)
    except (TypeError, ValueError) as e:
        raise _Unserializable(f"the {what} {value!r} cannot be saved ({e})") from None


def get_compile_config(model: Model, strict: bool = False) -> dict[str, Any] | None:
    """Returns what `compile()` was called with, as JSON-serialisable identifiers.

    Strings are kept; the optimizer and `Loss` and `Metric` objects are saved as
    `serialize_keras_object` records; functions are saved by name (restored from the registry,
    `custom_objects` or the scope, unless built in). The keys are Keras 3's. Returns None for
    an uncompiled model; when something cannot be saved (a lambda, a plain `torch.optim`
    optimizer), warns and returns None, or raises a ValueError naming it when `strict`.

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> config = get_compile_config(model)
        >>> config["optimizer"]["class_name"], config["loss"], config["metrics"]
        ('SGD', 'mse', ['mae'])
    """
    if not getattr(model, "compiled", False):
        return None
    optimizer = model.optimizer
    compile_loss = model._compile_loss
    compile_metrics = model._compile_metrics
    try:
        if not callable(getattr(optimizer, "get_config", None)):
            raise _Unserializable(
                f"the optimizer is a {type(optimizer).__name__}, not a kfit optimizer"
            )
        return {
            "optimizer": _serialize_identifier(optimizer, "optimizer"),
            "loss": _serialize_identifier(compile_loss.spec if compile_loss else None, "loss"),
            "loss_weights": _serialize_identifier(
                compile_loss.loss_weights if compile_loss else None, "loss weight"
            ),
            "metrics": _serialize_identifier(compile_metrics.spec if compile_metrics else None, "metric"),
            "weighted_metrics": _serialize_identifier(
                compile_metrics.weighted_spec if compile_metrics else None, "metric"
            ),
            "run_eagerly": False,
            "steps_per_execution": model.steps_per_execution,
            "jit_compile": model._jit_compile,
        }
    except _Unserializable as e:
        if strict:
            raise ValueError(
                f"Expected compile() arguments that can be written as a config: {e}. Received: "
                f"a model compiled with optimizer={optimizer!r}. Use a kfit optimizer, and "
                "losses and metrics given by name, as kfit objects, or as functions defined "
                "with `def`."
            ) from None
        warnings.warn(
            f"The model's compile() arguments are not saved: {e}. The loaded model will be "
            "uncompiled (and without optimizer state); call compile() on it yourself.",
            stacklevel=3,
        )
        return None


# Archives written before records carried `module` named a loss or metric by class alone.
_LEGACY_MODULES = {"loss": "keras.losses", "metric": "keras.metrics"}


def _named(name: Any) -> Any:
    """The registered or custom object called `name`, else the name itself.

    A name compile() does not know is left for it to reject, with its own message.
    """
    found = get_registered_object(name) if isinstance(name, str) else None
    return name if found is None else found


def _deserialize_identifier(value: Any, kind: str, custom_objects: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_deserialize_identifier(v, kind, custom_objects) for v in value]
    if isinstance(value, str):
        return _named(value)
    if not isinstance(value, dict):
        return value
    if "class_name" not in value:
        return {k: _deserialize_identifier(v, kind, custom_objects) for k, v in value.items()}
    if value["class_name"] == "function":
        return _named(value["config"])
    record = value if "module" in value else {**value, "module": _LEGACY_MODULES[kind]}
    return deserialize_keras_object(record, custom_objects)


def _public_optimizer(record: Any) -> Any:
    """Keras 3 names its optimizers' private modules (`keras.src.backend.torch.optimizers...`);
    kfit reads them as `keras.optimizers`, where they are public."""
    module = record.get("module") if isinstance(record, dict) else None
    if isinstance(module, str) and module.startswith("keras.src.") and "optimizers" in module:
        return {**record, "module": "keras.optimizers"}
    return record


def compile_from_config(
    model: Model,
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None = None,
) -> None:
    """Compiles `model` with the output of `get_compile_config`.

    Names are resolved in `custom_objects`, the active `custom_object_scope` and the registry.

    Example:
        >>> import kfit
        >>> a = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> a.compile(optimizer=kfit.optimizers.Adam(0.01), loss="mse")
        >>> b = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> compile_from_config(b, get_compile_config(a))
        >>> type(b.optimizer).__name__, float(b.optimizer.learning_rate)
        ('Adam', 0.01)
    """
    custom = dict(custom_objects or {})
    with custom_object_scope(custom):
        optimizer = deserialize_keras_object(_public_optimizer(config.get("optimizer", "rmsprop")), custom)
        loss = _deserialize_identifier(config.get("loss"), "loss", custom)
        metrics = _deserialize_identifier(config.get("metrics"), "metric", custom)
        weighted = _deserialize_identifier(config.get("weighted_metrics"), "metric", custom)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        loss_weights=config.get("loss_weights"),
        metrics=metrics,
        weighted_metrics=weighted,
        steps_per_execution=int(config.get("steps_per_execution") or 1),
        jit_compile=config.get("jit_compile") is True,
    )


# ---------------------------------------------------------------------------- save / load
def save_model(model: Model, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Saves `model` to a `.keras` archive: config, weights and optimizer state, atomically.

    Args:
        model: A kfit model: a `Sequential` of kfit layers, or a `Model` subclass (listed in
            `custom_objects` when loading).
        filepath: Where to write; must end in `.keras`.
        overwrite: Whether to replace an existing file; when False and the file exists, an
            error is raised before anything is written.

    Raises:
        ValueError: If the extension is not `.keras`, or a part of the model has no config.
        FileExistsError: If `overwrite` is False and `filepath` exists.

    Example:
        >>> import os, tempfile
        >>> import kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "model.keras")
        >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> save_model(model, path)
        >>> sorted(zipfile.ZipFile(path).namelist())
        ['config.json', 'metadata.json', 'model.weights.safetensors', 'optimizer.safetensors']
        >>> folder.cleanup()
    """
    from kfit import __version__

    path = _check_extension(filepath, "save")
    check_overwrite(filepath, overwrite)
    compile_config = get_compile_config(model)
    config = {
        **_entry(model, "model"),
        "build_config": _build_config(model),
        "compile_config": compile_config,
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kfit_version": __version__,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    weights = {name: value.detach() for name, value in module_state(model).items()}
    # The tensor members are written by the safetensors writer, which works on files; they
    # are staged next to the target so that a large model never fills a small /tmp.
    # Named as atomic's temporary files are, so that a save killed here leaves a leftover the
    # next save to `path` removes.
    with staging_directory(path) as staging:
        members = {_WEIGHTS: os.path.join(staging, _WEIGHTS)}
        safetensors_io.save_tensors(members[_WEIGHTS], weights)
        if compile_config is not None:
            members[_OPTIMIZER] = os.path.join(staging, _OPTIMIZER)
            slots, json_state = optimizer_state(model.optimizer)
            save_state(members[_OPTIMIZER], slots, {"optimizer": json_state})
        with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w") as archive:
            archive.writestr(_METADATA, json.dumps(metadata, indent=2), zipfile.ZIP_DEFLATED)
            archive.writestr(_CONFIG, json.dumps(config, indent=2), zipfile.ZIP_DEFLATED)
            for name, member in members.items():
                archive.write(member, name, zipfile.ZIP_STORED)


def _corrupt(path: str, problem: str) -> ValueError:
    return ValueError(
        f"Could not read the .keras archive: {problem}. Received: filepath={path!r} (of type "
        "str). The file is truncated, corrupt or was not written by kfit's model.save(); save "
        "the model again."
    )


def _read_json(path: str, archive: zipfile.ZipFile, member: str) -> dict[str, Any]:
    try:
        document = json.loads(archive.read(member).decode("utf-8"))
    except KeyError:
        raise _corrupt(path, f"it has no {member!r} member") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(path, f"member {member!r} is not valid JSON ({e})") from None
    if not isinstance(document, dict):
        raise _corrupt(path, f"member {member!r} is not a JSON object")
    return document


def _inflate_limit(path: str) -> int:
    return max(MIN_INFLATE_LIMIT, MAX_INFLATE_RATIO * os.path.getsize(path))


def _check_archive_sizes(path: str, archive: zipfile.ZipFile) -> None:
    """Refuses an archive whose members declare more data than `_inflate_limit` allows."""
    limit = _inflate_limit(path)
    declared = sum(info.file_size for info in archive.infolist())
    if declared > limit:
        raise ValueError(
            f"Expected a .keras archive to inflate to at most {limit} bytes ({MAX_INFLATE_RATIO} "
            f"times its size, at least {MIN_INFLATE_LIMIT}). Received: filepath={path!r} (of "
            f"type str), whose members declare {declared} bytes: a damaged file or a zip bomb. "
            "Nothing was extracted. Load only files saved by model.save()."
        )


def _copy_capped(path: str, packed: IO[bytes], f: IO[bytes], member: str) -> None:
    # zipfile already stops at a member's declared size; the cap guards against a member whose
    # header understates it, so that the staging folder never grows past the limit.
    left = _inflate_limit(path)
    while chunk := packed.read(1024 * 1024):
        left -= len(chunk)
        if left < 0:
            raise ValueError(
                f"Expected member {member!r} of the .keras archive to inflate to at most "
                f"{_inflate_limit(path)} bytes. Received: filepath={path!r} (of type str), "
                "which inflates further: a damaged file or a zip bomb. Load only files saved "
                "by model.save()."
            )
        f.write(chunk)


def _read_tensors(
    path: str, archive: zipfile.ZipFile, member: str, staging: str, state: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    target = os.path.join(staging, member)
    try:
        with archive.open(member) as packed, open(target, "wb") as f:
            _copy_capped(path, packed, f, member)
    except KeyError:
        raise _corrupt(path, f"it has no {member!r} member") from None
    try:
        if state:
            return load_state(target)
        return safetensors_io.load_tensors(target)[0], {}
    except KeyError:
        raise _corrupt(path, f"it has no {member!r} member") from None
    except ValueError as e:
        raise _corrupt(path, f"member {member!r} is damaged ({e})") from None


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """Loads a model saved by `save_model` (`model.save`), with weights and optimizer state.

    Args:
        filepath: A `.keras` file written by kfit.
        custom_objects: Maps class and function names (or registered `"package>name"` keys)
            to user-defined layers, models, losses, metrics or optimizers that the saved
            config refers to. Registered objects and the active `custom_object_scope` are
            searched too, so this is needed only for classes that are neither.
        compile: Whether to compile the model as it was saved (and restore its optimizer
            state, applied when the optimizer is built by the next `fit`).
        safe_mode: Accepted for Keras compatibility. Loading is always safe: the archive holds
            JSON and raw tensors only, so nothing is unpickled or evaluated.

    Returns:
        The model, built and holding the saved weights.

    Raises:
        ValueError: If the extension is not `.keras`, the file is truncated or corrupt, would
            inflate past the size limit (see the module docstring), or the config names a
            class or function that cannot be found (see `custom_objects`).
        FileNotFoundError: If `filepath` does not exist.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "model.keras")
        >>> model = kfit.Sequential([kfit.layers.Dense(2, activation="relu", input_dim=3)])
        >>> model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        >>> save_model(model, path)
        >>> loaded = load_model(path)
        >>> x = np.ones((4, 3), dtype="float32")
        >>> bool(np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
        >>> folder.cleanup()
    """
    del safe_mode
    path = _check_extension(filepath, "load")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Expected `filepath` to name an existing .keras file. Received: filepath="
            f"{filepath!r} (of type {type(filepath).__name__}), which does not exist. Check "
            "the path, or save the model first with model.save()."
        )
    custom = dict(custom_objects or {})
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as staging:
            _check_archive_sizes(path, archive)
            metadata = _read_json(path, archive, _METADATA)
            if metadata.get("format") != FORMAT:
                raise _corrupt(path, f"its metadata names format {metadata.get('format')!r}")
            config = _read_json(path, archive, _CONFIG)
            weights, _ = _read_tensors(path, archive, _WEIGHTS, staging, state=False)
            compile_config = config.get("compile_config") if compile else None
            slots: dict[str, torch.Tensor] = {}
            saved_optimizer = None
            if compile_config is not None and _OPTIMIZER in archive.namelist():
                slots, document = _read_tensors(path, archive, _OPTIMIZER, staging, state=True)
                saved_optimizer = document.get("optimizer")
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _corrupt(path, f"the zip container is damaged ({e})") from None
    build_config = config.get("build_config") or {}
    # As in Keras, `custom_objects` act as a scope while the model is rebuilt, so that a
    # from_config() that deserializes nested objects finds them too.
    with custom_object_scope(custom):
        try:
            model = _deserialize(config, build_config.get("input_shape"))
        except ValueError as e:
            raise ValueError(f"Could not rebuild the model saved in {path!r}: {e}") from e
    _build(model, build_config)
    unbuilt = _unbuilt_owners(model, list(weights))
    if unbuilt:
        raise ValueError(
            "Expected every layer that has saved weights to be built after rebuilding the "
            f"model. Received: filepath={path!r} (of type str), whose layers {unbuilt} create "
            "their weights on their first input, with no recorded input shape. Declare the "
            "input shape when constructing those layers (input_shape=... or input_dim=...)."
        )
    assign_tensors(model, weights, f"{path} (member {_WEIGHTS})")
    if compile_config is not None:
        try:
            compile_from_config(model, compile_config, custom)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Could not compile the model saved in {path!r}: {e} Pass the missing "
                "functions or classes in `custom_objects`, or load with compile=False."
            ) from e
        if saved_optimizer is not None:
            restore_optimizer_state(
                model.optimizer, slots, saved_optimizer, f"{path} (member {_OPTIMIZER})"
            )
    return model
