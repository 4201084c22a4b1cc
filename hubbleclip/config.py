"""One config system: typed dataclasses, loaded from YAML, overridden from the command line.

A config is a (possibly nested) dataclass.  ``load_config(Cls, path, overrides)`` merges, in
order: the dataclass defaults, a YAML file, then ``key.sub=value`` overrides.  Unknown keys and
values of the wrong type raise :class:`ConfigError` naming the file and the field.

``add_config_arguments(parser, Cls)`` adds ``--config FILE`` plus one ``--field.sub VALUE`` flag per
leaf field, so every field is settable from the command line in the usual argparse style.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_text

T = TypeVar("T")


class ConfigError(UserError):
    """A config file or override does not match the dataclass it should fill."""


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/CLI value into the annotated type, or raise ConfigError."""
    inner, optional = _unwrap_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got null")
    tp = inner
    origin = typing.get_origin(tp)
    try:
        if dataclasses.is_dataclass(tp):
            if isinstance(value, tp):
                return value
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
            return _from_dict(tp, value, where)
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
                return False
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ConfigError(f"{where}: expected a number, got {value!r}")
            return float(value)
        if tp is str:
            if isinstance(value, (dict, list)):
                raise ConfigError(f"{where}: expected a string, got {value!r}")
            return str(value)
        if origin in (list, tuple):
            (item_tp, *_) = typing.get_args(tp) or (Any,)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v != ""]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = [value]  # `--sizes 10` (read as YAML: a number) means [10]
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: expected a list, got {value!r}")
            items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        if origin is dict:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a mapping, got {value!r}")
            return dict(value)
        if origin is typing.Literal:
            allowed = typing.get_args(tp)
            # YAML reads a bare `no`/`off`/`yes`/`on` as a bool: the choice spelled that way
            spelled = [a for a in allowed if isinstance(a, str) and yaml.safe_load(a) is value]
            if isinstance(value, bool) and value not in allowed and len(spelled) == 1:
                return spelled[0]
            if value not in allowed:
                raise ConfigError(f"{where}: expected one of {list(allowed)}, got {value!r}")
            return value
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: cannot read {value!r} as {getattr(tp, '__name__', tp)}") from exc
    return value


def _from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; expected some of {sorted(types_)}")
    base = cls()
    kwargs = {}
    for name, tp in types_.items():
        if name in data:
            kwargs[name] = _coerce(data[name], tp, f"{where}.{name}" if where else name)
        else:
            kwargs[name] = getattr(base, name)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {key} is not a section")
    node[keys[-1]] = value


def load_config(
    cls: type[T], path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> T:
    """Defaults <- YAML file <- overrides (``["optim.lr=1e-5", ...]`` or ``{"optim.lr": 1e-5}``)."""
    data: dict[str, Any] = to_dict(cls())
    where = cls.__name__
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        _deep_update(data, loaded)
        where = str(path)
    items = (
        overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in overrides or []]
    )
    for key, value in items:
        # an empty value is the empty string (YAML would read it as null)
        _set_path(data, key, yaml.safe_load(value) if isinstance(value, str) and value.strip() else value)
    return _from_dict(cls, data, where if path else "")


def _split_override(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected KEY=VALUE")
    key, value = item.split("=", 1)
    return key.strip(), value


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_update(dst[key], value)
        else:
            dst[key] = value


def save_config(cfg: Any, path: str | Path) -> None:
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def _leaf_fields(cls: type, prefix: str = "") -> list[tuple[str, Any, str]]:
    out = []
    for f in dataclasses.fields(cls):
        tp = _field_types(cls)[f.name]
        inner, _ = _unwrap_optional(tp)
        if dataclasses.is_dataclass(inner):
            out.extend(_leaf_fields(inner, f"{prefix}{f.name}."))
        else:
            doc = (f.metadata or {}).get("help", "")
            out.append((prefix + f.name, tp, doc))
    return out


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """``--config FILE`` and one ``--a.b VALUE`` flag per leaf field of ``cls``."""
    parser.add_argument("--config", type=Path, default=None, help="YAML config file")
    group = parser.add_argument_group(f"{cls.__name__} fields (override the config file)")
    for name, tp, doc in _leaf_fields(cls):
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        group.add_argument(
            *flags,
            dest=f"cfg__{name}",
            default=None,
            metavar="VALUE",
            help=f"{doc} ({getattr(tp, '__name__', str(tp))})".strip(),
        )


def config_from_args(args: argparse.Namespace, cls: type[T], extra: dict[str, Any] | None = None) -> T:
    overrides = {
        k[len("cfg__") :]: v for k, v in vars(args).items() if k.startswith("cfg__") and v is not None
    }
    overrides.update(extra or {})
    return load_config(cls, getattr(args, "config", None), overrides)
