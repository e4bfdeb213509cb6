"""The native sample world as plain objects, and how a clean order lives its life.

An order is simulated from payment onwards along the real flow: the OMS picks it up, reviews and
releases it to the warehouse, the warehouse ships one or more parcels, the courier scans them,
the buyer confirms receipt. Every clean order is consistent across all sources at `as_of`, so any
finding on it is a false positive; anomalies (anomalies.py) are built on top by changing one
thing at a time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from ordersync.samples import catalog

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
CHANNELS = ("taobao", "pdd", "douyin", "shopify")
CHANNEL_WEIGHTS = (0.38, 0.27, 0.23, 0.12)
WAREHOUSE_CITY = "杭州市"


@dataclass
class Address:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str

    def region_text(self, sep: str = " ") -> str:
        return sep.join(p for p in (self.province, self.city, self.district, self.detail) if p)


@dataclass
class Event:
    at: datetime
    status: str  # Kuaidi100 state name (揽收, 在途, 派件, 签收, 退回, 待揽收)
    text: str


@dataclass
class Parcel:
    """One warehouse shipment (出库单). A merged parcel lists several order ids."""

    shipment_id: str
    order_ids: list[str]
    created_at: datetime
    items: list[tuple[str, int]]
    address: Address
    carrier: str | None = None
    tracking: str | None = None
    shipped_at: datetime | None = None
    status: str = "待拣货"
    events: list[Event] = field(default_factory=list)
    delivered_at: datetime | None = None


@dataclass
class Oms:
    system_id: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    updated_at: datetime
    amount: Decimal
    shipped_at: datetime | None = None
    tracking: str | None = None
    carrier: str | None = None


@dataclass
class Order:
    channel: str
    order_id: str
    created_at: datetime
    lines: list[tuple[str, int]]
    amount: Decimal
    address: Address
    status: str = "pending_payment"  # canonical
    paid_at: datetime | None = None
    updated_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    tracking: str | None = None
    carrier: str | None = None
    # The address the order was placed with, when the buyer changed it later (Taobao exports
    # both: 收货地址 and 修改后的收货地址).
    original_address: Address | None = None
    refund_amount: Decimal = Decimal("0.00")
    discount: Decimal = Decimal("0.00")
    oms: Oms | None = None
    parcels: list[Parcel] = field(default_factory=list)
    buyer: str = ""


class Ids:
    """Unique, realistic-looking identifiers, drawn from the world's one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()
        self.shopify_next = 1001
        self.shipment_seq = 0
        self.system_seq = 0

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def order_id(self, channel: str, created: datetime) -> str:
        rng = self.rng
        if channel == "taobao":
            return self._unique(lambda: str(rng.randrange(3 * 10**18, 4 * 10**18)))
        if channel == "pdd":
            day = bj(created).strftime("%y%m%d")
            return self._unique(lambda: f"{day}-{rng.randrange(10**14, 10**15)}")
        if channel == "douyin":
            return self._unique(
                lambda: str(rng.randrange(6_920_000_000_000_000_000, 6_950_000_000_000_000_000))
            )
        number = self.shopify_next
        self.shopify_next += 1
        return f"#{number}"

    def tracking(self, carrier: str) -> str:
        spec = catalog.CARRIER_BY_CODE[carrier]
        return self._unique(
            lambda: spec.prefix + "".join(str(self.rng.randrange(10)) for _ in range(spec.digits))
        )

    def shipment_id(self, at: datetime) -> str:
        self.shipment_seq += 1
        return f"CK{bj(at):%y%m%d}{self.shipment_seq:06d}"

    def system_id(self, at: datetime) -> str:
        self.system_seq += 1
        return f"XS{bj(at):%y%m%d}{self.system_seq:06d}"


BEIJING = timedelta(hours=8)


def bj(at: datetime) -> datetime:
    """A UTC instant as naive Beijing wall time (how Chinese exports write times)."""
    return (at + BEIJING).replace(tzinfo=None)


def bj_text(at: datetime | None) -> str:
    return "" if at is None else bj(at).strftime("%Y-%m-%d %H:%M:%S")


def between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    """A random duration in [low, high], whole seconds so exports round-trip exactly."""
    return timedelta(seconds=rng.randint(int(low.total_seconds()), int(high.total_seconds())))


@dataclass
class Plan:
    """Overrides for one order's life; None means "draw it like any clean order"."""

    oms_lag: timedelta | None = None  # payment → row appears in the OMS
    release_after: timedelta | None = None  # OMS row → released to the warehouse
    ship_after: timedelta | None = None  # released → parcel leaves the warehouse
    channel_lag: timedelta | None = None  # parcel shipped → channel marked shipped
    pickup_after: timedelta | None = None  # shipped → first courier scan
    transit: timedelta | None = None  # first scan → delivered
    confirm_after: timedelta | None = None  # delivered → buyer confirms on the channel
    carrier: str | None = None
    split: bool = False


class Simulator:
    """Builds clean orders. All randomness comes from the one `rng` so worlds are reproducible."""

    def __init__(self, rng: random.Random, as_of: datetime) -> None:
        self.rng = rng
        self.as_of = as_of
        self.ids = Ids(rng)

    # --- people, places, baskets -------------------------------------------------------------

    def person(self, *, masked: bool = False) -> Address:
        rng = self.rng
        name = rng.choice(catalog.SURNAMES) + rng.choice(catalog.GIVEN_NAMES)
        phone = rng.choice(catalog.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if masked:
            phone = phone[:3] + "****" + phone[7:]
        province, city, district = rng.choice(catalog.REGIONS)
        detail = self.street()
        return Address(name, phone, province, city, district, detail)

    def street(self) -> str:
        rng = self.rng
        street = f"{rng.choice(catalog.STREETS)}{rng.randint(1, 999)}号"
        if rng.random() < 0.7:
            street += f"{rng.choice(catalog.COMMUNITIES)}{rng.randint(1, 30)}幢{rng.randint(1, 30)}0{rng.randint(1, 4)}室"
        return street

    def basket(self, lines: int | None = None) -> list[tuple[str, int]]:
        rng = self.rng
        count = lines or rng.choices((1, 2, 3), weights=(0.62, 0.28, 0.10))[0]
        skus = rng.sample([p[0] for p in catalog.PRODUCTS], count)
        return [(sku, rng.choices((1, 2, 3), weights=(0.75, 0.2, 0.05))[0]) for sku in skus]

    def new_order(self, channel: str, created: datetime, *, lines: int | None = None) -> Order:
        rng = self.rng
        basket = self.basket(lines)
        subtotal = sum(Decimal(PRICE[sku]) * qty for sku, qty in basket)
        discount = Decimal("0.00")
        if subtotal >= Decimal("199") and rng.random() < 0.4:
            discount = Decimal(rng.choice(("10.00", "20.00", "30.00")))
        masked = channel in ("pdd", "douyin") and rng.random() < 0.6
        return Order(
            channel=channel,
            order_id=self.ids.order_id(channel, created),
            created_at=created,
            lines=basket,
            amount=subtotal - discount,
            discount=discount,
            address=self.person(masked=masked),
            updated_at=created,
            buyer=f"tb{rng.randrange(10**7, 10**8)}_{rng.randint(1, 99)}",
        )

    def carrier(self, allow_sf: bool = True) -> str:
        pool = [c for c in catalog.CARRIERS if allow_sf or c.code != "sf"]
        return self.rng.choices([c.code for c in pool], weights=[c.weight for c in pool])[0]

    # --- the life of an order ----------------------------------------------------------------

    def pay(self, order: Order, paid_at: datetime, plan: Plan | None = None) -> Order:
        """Pay the order at `paid_at` and let it live until as_of along `plan`."""
        plan = plan or Plan()
        rng, as_of = self.rng, self.as_of
        order.paid_at = paid_at
        order.status = "paid"
        order.updated_at = paid_at
        oms_at = paid_at + (
            plan.oms_lag if plan.oms_lag is not None else between(rng, 2 * MIN, 30 * MIN)
        )
        if oms_at > as_of:
            return order
        order.oms = Oms(
            system_id=self.ids.system_id(oms_at),
            status="待审核",
            created_at=order.created_at,
            paid_at=paid_at,
            updated_at=oms_at,
            amount=order.amount,
        )
        release = oms_at + (
            plan.release_after if plan.release_after is not None else between(rng, 10 * MIN, 2 * H)
        )
        if release > as_of:
            return order
        order.oms.status, order.oms.updated_at = "已审核", release
        ship = release + (
            plan.ship_after if plan.ship_after is not None else between(rng, 3 * H, 36 * H)
        )
        carrier = plan.carrier or self.carrier()
        if plan.split and len(order.lines) < 2:
            others = [p[0] for p in catalog.PRODUCTS if p[0] != order.lines[0][0]]
            order.lines = [order.lines[0], (rng.choice(others), 1)]
            order.amount = sum(Decimal(PRICE[s]) * q for s, q in order.lines) - order.discount
            order.oms.amount = order.amount
        groups = _split_lines(order.lines) if plan.split else [order.lines]
        for index, items in enumerate(groups):
            parcel = Parcel(
                shipment_id=self.ids.shipment_id(release),
                order_ids=[order.order_id],
                created_at=release,
                items=list(items),
                address=order.address,
            )
            order.parcels.append(parcel)
            shipped = ship + (between(rng, 20 * MIN, 6 * H) if index else timedelta(0))
            self.ship(parcel, shipped, carrier, plan)
        self.settle(order, plan)
        return order

    def ship(
        self, parcel: Parcel, shipped: datetime, carrier: str, plan: Plan | None = None
    ) -> None:
        """Ship `parcel` at `shipped` if that is before as_of, and let the courier carry it."""
        plan = plan or Plan()
        if shipped > self.as_of:
            return
        parcel.shipped_at = shipped
        parcel.status = "已出库"
        parcel.carrier = carrier
        parcel.tracking = self.ids.tracking(carrier)
        self.carry(parcel, plan)

    def carry(
        self, parcel: Parcel, plan: Plan | None = None, *, stop_after: datetime | None = None
    ) -> None:
        """The courier's scans for a shipped parcel, up to as_of (or `stop_after`)."""
        plan = plan or Plan()
        rng = self.rng
        assert parcel.shipped_at is not None and parcel.carrier is not None
        spec = catalog.CARRIER_BY_CODE[parcel.carrier]
        pickup = parcel.shipped_at + (
            plan.pickup_after if plan.pickup_after is not None else between(rng, 1 * H, 10 * H)
        )
        delivered = pickup + (
            plan.transit if plan.transit is not None else between(rng, 36 * H, 80 * H)
        )
        dest = parcel.address
        events = [
            Event(
                pickup, "揽收", f"【{WAREHOUSE_CITY}】{spec.channel_name} 杭州余杭仓配网点 已揽收"
            )
        ]
        hops = rng.randint(2, 3)
        span = delivered - pickup - 4 * H
        for hop in range(1, hops + 1):
            at = pickup + span * hop / (hops + 1) + between(rng, -1 * H, 1 * H)
            if hop == 1:
                text = f"快件已到达【{spec.hub}】"
            elif hop == hops:
                text = f"快件已到达【{dest.city}转运中心】"
            else:
                text = f"快件已从【{spec.hub}】发出，准备发往【{dest.city}转运中心】"
            events.append(Event(at.replace(microsecond=0), "在途", text))
        courier = rng.choice(catalog.SURNAMES) + "师傅"
        out = delivered - between(rng, 90 * MIN, 4 * H)
        events.append(
            Event(
                out,
                "派件",
                f"【{dest.city}{dest.district}】快递员{courier}正在派件，如有疑问请联系快递员",
            )
        )
        events.append(
            Event(
                delivered,
                "签收",
                f"快件已签收，签收人：{rng.choice(('本人', '家人', '门卫', '快递驿站'))}，感谢使用{spec.channel_name}",
            )
        )
        limit = min(self.as_of, stop_after) if stop_after else self.as_of
        parcel.events = [e for e in events if e.at <= limit]
        parcel.delivered_at = delivered if delivered <= limit else None

    def settle(self, order: Order, plan: Plan | None = None) -> None:
        """Bring the channel and OMS status in line with what the warehouse and courier did."""
        plan = plan or Plan()
        rng, as_of = self.rng, self.as_of
        shipped = [p for p in order.parcels if p.shipped_at is not None]
        ship_times = [p.shipped_at for p in shipped if p.shipped_at is not None]
        if not ship_times:
            return
        # The seller uploads the first parcel's waybill as soon as it leaves: a channel still
        # showing "not shipped" while a parcel is on its way is the tracking-not-uploaded defect.
        first = min(ship_times)
        lag = plan.channel_lag if plan.channel_lag is not None else between(rng, 2 * MIN, 40 * MIN)
        if order.oms and first + 5 * MIN <= as_of:
            oms = order.oms
            oms.status, oms.updated_at, oms.shipped_at = "已发货", first + 5 * MIN, first
            oms.tracking, oms.carrier = shipped[0].tracking, shipped[0].carrier
        if first + lag > as_of:
            return
        order.status = "shipped"
        order.shipped_at = first + lag
        order.updated_at = order.shipped_at
        order.tracking, order.carrier = shipped[0].tracking, shipped[0].carrier
        if len(shipped) < len(order.parcels):
            return
        arrivals = [p.delivered_at for p in shipped if p.delivered_at is not None]
        if len(arrivals) == len(shipped):
            delivered = max(arrivals)
            confirm = delivered + (
                plan.confirm_after
                if plan.confirm_after is not None
                else between(rng, 3 * H, 96 * H)
            )
            if confirm <= as_of:
                order.status = "delivered"
                order.delivered_at = order.updated_at = confirm
                if order.oms and confirm + 10 * MIN <= as_of:
                    order.oms.status, order.oms.updated_at = "已完成", confirm + 10 * MIN


PRICE = {sku: price for sku, _title, price in catalog.PRODUCTS}
TITLE = {sku: title for sku, title, _price in catalog.PRODUCTS}


def _split_lines(lines: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """Two parcels: the first line alone, the rest together (e.g. tea ships apart from a teapot)."""
    return [lines[:1], lines[1:]]
