"""Load and validate `ordersync.yaml`.

Every error names the file and the key path (`sources[2].columns.order_id`) and says what was
expected. `${ENV_VAR}` references are resolved from the environment; the values are remembered
only so they can be scrubbed from any text we print (`Config.redact`).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ordersync import schema
from ordersync.errors import ConfigError
from ordersync.sources.presets import PRESETS

CONFIG_ENV = "ORDERSYNC_CONFIG"
DEFAULT_CONFIG_NAME = "ordersync.yaml"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(value: Any) -> timedelta:
    """`48h`, `30m`, `3d`, `1h30m`, `90s` → timedelta. A bare number is hours."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 48h, 30m or 3d, got {value!r}")
    if isinstance(value, int | float):
        return timedelta(hours=value)
    text = str(value).strip().lower().replace(" ", "")
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"expected a duration like 48h, 30m or 3d, got {value!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerChannel(_Strict):
    """A threshold with a default and optional per-channel overrides: `{default: 48h, pdd: 24h}`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    default: Duration

    @model_validator(mode="before")
    @classmethod
    def _scalar_is_default(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        return {"default": value}

    @model_validator(mode="after")
    def _parse_overrides(self) -> PerChannel:
        for channel, raw in (self.model_extra or {}).items():
            try:
                object.__setattr__(
                    self, "__pydantic_extra__", {**self.model_extra, channel: parse_duration(raw)}
                )
            except ValueError as exc:
                raise ValueError(f"{channel}: {exc}") from None
        return self

    def overrides(self) -> dict[str, timedelta]:
        return dict(self.model_extra or {})

    def for_channel(self, channel: str | None) -> timedelta:
        return self.overrides().get(channel or "", self.default)


class RulesConfig(_Strict):
    missing_grace: Duration = timedelta(hours=2)
    sync_grace: Duration = timedelta(hours=1)
    pickup_grace: Duration = timedelta(hours=24)
    ship_sla: PerChannel = PerChannel(default=timedelta(hours=48))
    stuck_after: Duration = timedelta(hours=72)
    stall_after: Duration = timedelta(hours=96)
    amount_tolerance: Decimal = Decimal("0.01")
    max_changes: int = Field(3, ge=1)
    change_window: Duration = timedelta(hours=24)
    no_delivery_regions: tuple[str, ...] = ()
    severity: dict[str, Literal["low", "medium", "high", "critical"]] = {}
    disabled: tuple[str, ...] = ()

    @field_validator("severity")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(schema.RULES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; rules are {list(schema.RULES)}")
        return value

    @field_validator("disabled")
    @classmethod
    def _known_disabled(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(schema.RULES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; rules are {list(schema.RULES)}")
        return value

    def severity_of(self, rule: str) -> str:
        return self.severity.get(rule, schema.DEFAULT_SEVERITY[rule])


class CoverageConfig(_Strict):
    """What a source vouches for; outside it, rules that need it say "not checked"."""

    carriers: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None


ColumnRef = str | list[str]
# Keys a `columns:` mapping may use. A Literal (not a validator) so that an unknown key is
# reported at its own path: `sources[0].columns.order_idd`.
MAPPABLE_FIELDS = tuple(
    dict.fromkeys(
        (
            *schema.MAPPABLE_ORDER_FIELDS,
            *schema.MAPPABLE_TRACKING_FIELDS,
            schema.ITEM_SKU,
            schema.ITEM_QTY,
        )
    )
)
MappableField = Literal.__getitem__(MAPPABLE_FIELDS)  # type: ignore[attr-defined]


class SourceConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: Literal["channel", "oms", "warehouse", "carrier"]
    preset: str | None = None
    channel: str | None = None
    format: Literal["xlsx", "xls", "csv", "parquet", "json", "jsonl", "api"]
    path: str | None = None
    sheet: str | int | None = None
    header_row: int | None = Field(None, ge=1)
    encoding: str | None = None
    timezone: str | None = None
    fill_down: bool = False
    amount_unit: Literal["yuan", "fen"] = "yuan"
    order_id_separator: str = r"[,，;；、\s]+"
    columns: dict[MappableField, ColumnRef] = {}  # type: ignore[valid-type]
    status_map: dict[str, str] = {}
    carrier_map: dict[str, str] = {}
    covers: CoverageConfig = CoverageConfig()
    api: dict[str, Any] | None = None
    doc: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "preset" not in value:
            return value
        name = value["preset"]
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; presets are {sorted(PRESETS)}")
        merged = {k: v for k, v in PRESETS[name].items()}
        for key, explicit in value.items():
            if key in ("columns", "status_map") and isinstance(explicit, dict):
                merged[key] = {**merged.get(key, {}), **explicit}
            else:
                merged[key] = explicit
        return merged

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> SourceConfig:
        statuses = set(schema.TRACKING_STATUSES if self.kind == "carrier" else schema.STATUSES)
        bad = {raw: canon for raw, canon in self.status_map.items() if canon not in statuses}
        if bad:
            raw, canon = next(iter(bad.items()))
            raise ValueError(
                f"status_map maps {raw!r} to {canon!r}, which is not a canonical status; "
                f"expected one of {sorted(statuses)}"
            )
        if self.format == "api":
            if not self.api:
                raise ValueError("format: api needs an `api:` block")
        elif not self.path:
            raise ValueError(f"format: {self.format} needs a `path:` (a file or a glob)")
        if self.kind == "channel" and not self.channel:
            raise ValueError("a channel source needs `channel:` (taobao, pdd, douyin, shopify, …)")
        if "order_id" not in self.columns and self.kind != "carrier" and self.format != "api":
            raise ValueError("columns.order_id is required: it is the join key")
        if self.kind == "carrier" and "tracking_no" not in self.columns and self.format != "api":
            raise ValueError("columns.tracking_no is required for a carrier source")
        return self


class StoreConfig(_Strict):
    path: str = "./ordersync-data"
    lock_timeout: Duration = timedelta(seconds=30)


class NotifyTarget(_Strict):
    url: str
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_url(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value


class ReportConfig(_Strict):
    lang: Literal["zh", "en"] = "zh"
    mask: bool = True
    xlsx: str | None = None
    corrections: str | None = None


class Config(_Strict):
    timezone: str = "Asia/Shanghai"
    store: StoreConfig = StoreConfig()
    sources: tuple[SourceConfig, ...] = ()
    rules: RulesConfig = RulesConfig()
    carriers: dict[str, str] = {}
    notify: tuple[NotifyTarget, ...] = ()
    report: ReportConfig = ReportConfig()

    # Set by load_config, not by the YAML.
    base_dir: Path = Path(".")
    file: str | None = None
    secrets: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        _zone(value)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}; names must be unique")
            seen.add(source.name)
        return self

    @property
    def store_path(self) -> Path:
        return (self.base_dir / self.store.path).resolve()

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(
            f"no source named {name!r}; sources are {[s.name for s in self.sources]}",
            file=self.file,
        )

    def source_timezone(self, source: SourceConfig) -> str:
        return source.timezone or self.timezone

    def resolve_path(self, path: str) -> Path:
        candidate = Path(os.path.expanduser(path))
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def redact(self, text: str) -> str:
        """Replace every secret value in `text` with `***`."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}; expected an IANA name like Asia/Shanghai"
        ) from None


def _interpolate(value: Any, path: str, file: str, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), file, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", file, secrets) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"environment variable {name} is not set (referenced as ${{{name}}})",
                    file=file,
                    key=path,
                )
            secrets.append(os.environ[name])
            return os.environ[name]

        return _ENV_REF.sub(substitute, value)
    return value


def _key_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("function-after[_parse_overrides(), PerChannel]",) or "[" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def find_config_path(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> Config:
    """Read, interpolate and validate a config file. Raises ConfigError with file and key path."""
    config_path = find_config_path(path)
    file = str(config_path)
    if not config_path.exists():
        raise ConfigError(
            "config file not found; pass --config FILE, set $ORDERSYNC_CONFIG, or run `ordersync init`",
            file=file,
        )
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=file) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping at the top level, got {type(raw).__name__}", file=file
        )
    return config_from_dict(
        raw, base_dir=config_path.parent.resolve(), file=file, data_dir=data_dir
    )


def config_from_dict(
    raw: dict[str, Any],
    *,
    base_dir: Path | None = None,
    file: str | None = None,
    data_dir: str | Path | None = None,
) -> Config:
    secrets: list[str] = []
    data = _interpolate(raw, "", file or "<config>", secrets)
    if data_dir is not None:
        data = {
            **data,
            "store": {**(data.get("store") or {}), "path": str(Path(data_dir).resolve())},
        }
    for forbidden in ("base_dir", "file", "secrets"):
        if forbidden in data:
            raise ConfigError("unknown key", file=file, key=forbidden)
    try:
        return Config(**data, base_dir=base_dir or Path.cwd(), file=file, secrets=tuple(secrets))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = _key_path(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; see config.example.yaml)"
            elif error["type"] == "literal_error" and error["loc"][-1] == "[key]":
                message = (
                    f"unknown canonical field {error['input']!r}; "
                    f"expected one of {sorted(MAPPABLE_FIELDS)}"
                )
            problems.append(f"{key}: {message}" if key else message)
        raise ConfigError("; ".join(problems), file=file) from None
