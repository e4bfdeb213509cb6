"""The native world's orders: the clean bulk, the injected anomalies and the hard negatives.

Each scenario pins the timings that matter relative to `as_of`, so that exactly the rules it
lists in the ground truth fire (docs/RULES.md) and no other. Where one defect necessarily trips
two rules (an order stuck in review is also late to ship), both are listed and the note says
why. Hard negatives look suspicious but must trigger nothing; their `rule` names the rule they
tempt.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from ordersync.samples import catalog
from ordersync.samples.model import (
    CHANNEL_WEIGHTS,
    CHANNELS,
    MIN,
    PRICE,
    Event,
    H,
    Oms,
    Order,
    Parcel,
    Plan,
    Simulator,
    between,
)

NEVER = timedelta(days=3650)
DAY = timedelta(days=1)
# Fixed lags for pinned scenarios: the OMS sees the order 10 min after payment and releases it
# 30 min later, so a pinned ship time is `paid + 40 min + ship_after`.
OMS_LAG = 10 * MIN
RELEASE = 30 * MIN
WMS = "wms"
OMS_SOURCE = "oms"


@dataclass(frozen=True)
class Truth:
    order_id: str
    rule: str
    detail: str
    kind: str  # anomaly | hard_negative
    note: str


@dataclass
class NativeWorld:
    orders: list[Order] = field(default_factory=list)
    # OMS and warehouse rows whose order id no channel export carries.
    extra_oms: list[tuple[str, Order]] = field(default_factory=list)
    extra_parcels: list[tuple[str, Parcel]] = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)
    # Earlier versions of Pinduoduo orders, one list per snapshot, oldest first.
    snapshots: list[list[Order]] = field(default_factory=list)


class Builder:
    """Builds a NativeWorld of `orders` channel orders."""

    def __init__(self, rng: random.Random, as_of: datetime) -> None:
        self.rng = rng
        self.as_of = as_of
        self.sim = Simulator(rng, as_of)
        self.world = NativeWorld()
        self._rotation = 0

    # --- helpers -----------------------------------------------------------------------------

    def ago(self, low_hours: float, high_hours: float | None = None) -> datetime:
        """A moment `low..high` hours before as_of, whole seconds."""
        high = low_hours if high_hours is None else high_hours
        return self.as_of - between(self.rng, timedelta(hours=low_hours), timedelta(hours=high))

    def channel(self, allowed: tuple[str, ...] = ("taobao", "pdd", "douyin")) -> str:
        self._rotation += 1
        return allowed[self._rotation % len(allowed)]

    def order(
        self, channel: str, paid: datetime, plan: Plan | None = None, *, lines: int | None = None
    ) -> Order:
        created = paid - between(self.rng, 1 * MIN, 20 * MIN)
        order = self.sim.new_order(channel, created, lines=lines)
        self.sim.pay(order, paid, plan)
        self.world.orders.append(order)
        return order

    def pinned(self, paid: datetime, ship_at: datetime | None, **extra) -> Plan:
        """A plan whose OMS/warehouse timings are fixed; ship_at None = never shipped."""
        ship_after = NEVER if ship_at is None else ship_at - paid - OMS_LAG - RELEASE
        return Plan(oms_lag=OMS_LAG, release_after=RELEASE, ship_after=ship_after, **extra)

    def truth(
        self, order: Order | str, rule: str, detail: str, note: str, kind: str = "anomaly"
    ) -> None:
        order_id = order if isinstance(order, str) else order.order_id
        self.world.truth.append(Truth(order_id, rule, detail, kind, note))

    # --- the clean bulk ----------------------------------------------------------------------

    def clean(self, count: int) -> None:
        rng, as_of = self.rng, self.as_of
        for _ in range(count):
            channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
            created = as_of - between(rng, 5 * MIN, timedelta(days=14) - 2 * H)
            roll = rng.random()
            if roll < 0.03:
                # Unpaid orders are recent: the platforms close them after a day.
                created = as_of - between(rng, 5 * MIN, 20 * H)
                order = self.sim.new_order(channel, created)
                if rng.random() < 0.5 and created + 10 * MIN <= as_of:
                    order.oms = Oms(
                        self.sim.ids.system_id(created),
                        "待付款",
                        created,
                        None,
                        created + 10 * MIN,
                        order.amount,
                    )
            elif roll < 0.06:
                created = as_of - between(rng, 26 * H, timedelta(days=14) - 2 * H)
                order = self.sim.new_order(channel, created)
                order.status, order.updated_at = "cancelled", created + 24 * H
            elif roll < 0.10:
                order = self._refunded_before_shipping(channel, created)
            else:
                order = self.sim.new_order(channel, created)
                paid = created + between(rng, 1 * MIN, 30 * MIN)
                if paid > as_of:
                    paid = as_of - 1 * MIN
                self.sim.pay(order, paid, Plan(split=rng.random() < 0.04))
            self.world.orders.append(order)

    def _refunded_before_shipping(self, channel: str, created: datetime) -> Order:
        rng = self.rng
        order = self.sim.new_order(channel, created)
        paid = created + between(rng, 1 * MIN, 30 * MIN)
        refund = paid + between(rng, 20 * MIN, 3 * H)
        if refund > self.as_of:
            self.sim.pay(order, min(paid, self.as_of - MIN))
            return order
        # The OMS holds it for review and cancels it when the refund lands: no warehouse row.
        self.sim.pay(order, paid, Plan(release_after=NEVER))
        order.status, order.updated_at = "refunded", refund
        if order.oms is not None:
            order.oms.status, order.oms.updated_at = "已退款", refund + 5 * MIN
        return order

    # --- anomalies ---------------------------------------------------------------------------

    def missing_order(self) -> None:
        for channel in ("taobao", "pdd", "shopify"):
            order = self.order(channel, self.ago(5, 30), Plan(oms_lag=NEVER))
            # Not also missing_order/wms: the warehouse is only checked for orders the OMS has
            # released (RULES.md), and an order the OMS never saw was never released.
            self.truth(
                order,
                "missing_order",
                OMS_SOURCE,
                "never reached the OMS (nor the warehouse); paid 5-30h ago, past missing_grace, inside ship_sla",
            )
        for channel in ("douyin", "taobao", "pdd"):
            paid = self.ago(6, 30)
            order = self.order(channel, paid, self.pinned(paid, None))
            order.parcels.clear()
            self.truth(
                order,
                "missing_order",
                WMS,
                "OMS released it (已审核) but the warehouse never created a shipment; paid 6-30h ago",
            )

    def orphan_order(self) -> None:
        for with_wms in (False, False, True, True):
            paid = self.ago(3 * 24, 9 * 24)
            stray = self.sim.new_order("taobao", paid - 5 * MIN)
            self.sim.pay(stray, paid, self.pinned(paid, None))
            self.world.extra_oms.append((OMS_SOURCE, stray))
            self.truth(
                stray,
                "orphan_order",
                OMS_SOURCE,
                "OMS row for an order id no channel export has, created inside every channel's period",
            )
            if with_wms:
                self.world.extra_parcels.append((WMS, stray.parcels[0]))
                self.truth(
                    stray, "orphan_order", WMS, "the warehouse also holds a pick ticket for it"
                )

    def status_mismatch(self) -> None:
        for _ in range(2):
            paid = self.ago(3, 30)
            order = self.order(self.channel(), paid, Plan(oms_lag=OMS_LAG, release_after=NEVER))
            oms = order.oms
            assert oms is not None
            oms.status, oms.paid_at, oms.updated_at = "待付款", None, order.created_at + 2 * MIN
            self.truth(
                order,
                "status_mismatch",
                "oms_unpaid:oms",
                "paid on the channel 3-30h ago, the OMS still says 待付款; not released, so no warehouse check",
            )
        for _ in range(2):
            paid = self.ago(14, 30)
            order = self.order(self.channel(), paid, self.pinned(paid, None))
            parcel = order.parcels[0]
            carrier = self.sim.carrier(allow_sf=False)
            parcel.carrier, parcel.tracking, parcel.status = (
                carrier,
                self.sim.ids.tracking(carrier),
                "已打包",
            )
            order.status, order.shipped_at = "shipped", self.ago(3, 12)
            order.updated_at, order.tracking, order.carrier = (
                order.shipped_at,
                parcel.tracking,
                carrier,
            )
            self.truth(
                order,
                "status_mismatch",
                "channel_shipped_wh_not:wms",
                "tracking uploaded to the channel 3-12h ago (inside pickup_grace), the parcel is only packed",
            )
        for _ in range(2):
            paid = self.ago(20, 36)
            ship = self.ago(4, 12)
            order = self.order(
                self.channel(),
                paid,
                self.pinned(
                    paid, ship, channel_lag=NEVER, carrier=self.sim.carrier(allow_sf=False)
                ),
            )
            self.truth(
                order,
                "status_mismatch",
                "wh_shipped_channel_not:wms",
                "the warehouse shipped 4-12h ago, the tracking number was never uploaded to the channel",
            )

    def refund_not_stopped(self) -> None:
        cases = (
            ("taobao", "refunded", 40, 37, 30),
            ("pdd", "refund_requested", 20, 10, None),
            ("douyin", "cancelled", 50, 47, 45),
            ("shopify", "refunded", 8, 5, None),
        )
        for channel, status, paid_h, dead_h, ship_h in cases:
            paid = self.ago(paid_h)
            ship = self.ago(ship_h) if ship_h else None
            plan = self.pinned(
                paid, ship, channel_lag=NEVER, carrier=self.sim.carrier(allow_sf=False)
            )
            order = self.order(channel, paid, plan)
            order.status, order.updated_at = status, self.ago(dead_h)
            what = "shipped after it" if ship_h else "still has it waiting to be picked"
            self.truth(
                order,
                "refund_not_stopped",
                WMS,
                f"{status} on the channel {dead_h}h ago; the warehouse {what}",
            )

    def ghost_shipment(self) -> None:
        for channel in ("pdd", "douyin"):
            paid = self.ago(60)
            order = self.order(channel, paid, self.pinned(paid, None))
            parcel = order.parcels[0]
            parcel.shipped_at, parcel.status = self.ago(50), "已出库"
            order.status, order.shipped_at = "shipped", self.ago(49)
            order.updated_at = order.shipped_at
            assert order.oms is not None
            order.oms.status, order.oms.shipped_at, order.oms.updated_at = (
                "已发货",
                parcel.shipped_at,
                order.shipped_at,
            )
            self.truth(
                order,
                "ghost_shipment",
                "no_tracking",
                "marked shipped 49-50h ago (channel and warehouse) with no tracking number anywhere",
            )
        for channel in ("taobao", "shopify"):
            paid = self.ago(50)
            order = self.order(
                channel, paid, self.pinned(paid, self.ago(40), carrier="zto", transit=400 * H)
            )
            parcel = order.parcels[0]
            parcel.events = []
            self.truth(
                order,
                "ghost_shipment",
                parcel.tracking or "",
                "shipped 40h ago on a covered carrier (zto); the courier has never heard of the waybill",
            )
        for channel in ("taobao", "pdd"):
            paid = self.ago(46)
            order = self.order(
                channel, paid, self.pinned(paid, self.ago(36), carrier="yto", transit=400 * H)
            )
            parcel = order.parcels[0]
            assert parcel.shipped_at is not None
            parcel.events = [
                Event(
                    parcel.shipped_at - 30 * MIN,
                    "待揽收",
                    "商家已下单，电子面单已打印，等待快递员揽收",
                )
            ]
            self.truth(
                order,
                "ghost_shipment",
                parcel.tracking or "",
                "shipped 36h ago; the courier only has the label-printed record, no pickup scan",
            )

    def tracking_reused(self) -> None:
        for channel in ("taobao", "pdd", "douyin"):
            paid = self.ago(60)
            first = self.order(channel, paid, self.pinned(paid, self.ago(50), carrier="zto"))
            paid = self.ago(40)
            second = self.order(
                self.channel(),
                paid,
                self.pinned(paid, self.ago(30), carrier="zto", channel_lag=20 * MIN),
            )
            original, parcel = first.parcels[0], second.parcels[0]
            parcel.tracking, parcel.events, parcel.delivered_at = original.tracking, [], None
            second.tracking = original.tracking
            assert second.oms is not None
            second.oms.tracking = original.tracking
            if second.status == "delivered":
                second.status, second.delivered_at = "shipped", None
                second.updated_at = second.shipped_at
                second.oms.status = "已发货"
            tracking = original.tracking or ""
            for order in (first, second):
                self.truth(
                    order,
                    "tracking_reused",
                    tracking,
                    "one waybill on two orders of different buyers that no warehouse row merges",
                )

    def unshipped_timeout(self) -> None:
        for _ in range(3):
            paid = self.ago(52, 66)
            order = self.order(self.channel(), paid, self.pinned(paid, None))
            self.truth(
                order,
                "unshipped_timeout",
                "",
                "paid 52-66h ago, released (已审核, not on hold), still 待拣货 in the warehouse",
            )

    def stuck_order(self) -> None:
        for _ in range(2):
            paid = self.ago(80, 110)
            order = self.order(self.channel(), paid, Plan(oms_lag=OMS_LAG, release_after=NEVER))
            self.truth(
                order,
                "stuck_order",
                OMS_SOURCE,
                "待审核 (on_hold) in the OMS since 80-110h ago; never released, so no warehouse check",
            )
            self.truth(
                order,
                "unshipped_timeout",
                "",
                "the stuck order is necessarily past the 48h ship_sla too",
            )
        paid = self.ago(90)
        order = self.order(self.channel(), paid, self.pinned(paid, None))
        assert order.oms is not None
        order.oms.status = "配货中"
        self.truth(order, "stuck_order", OMS_SOURCE, "配货中 (processing) in the OMS since 89h ago")
        self.truth(
            order,
            "unshipped_timeout",
            "",
            "the stuck order is necessarily past the 48h ship_sla too",
        )

    def delivery_stalled(self) -> None:
        for _ in range(3):
            paid = self.ago(8 * 24)
            order = self.order(
                self.channel(),
                paid,
                self.pinned(
                    paid,
                    self.ago(7 * 24),
                    carrier=self.sim.carrier(allow_sf=False),
                    pickup_after=3 * H,
                    transit=400 * H,
                ),
            )
            parcel = order.parcels[0]
            pickup = parcel.events[0]
            spec = catalog.CARRIER_BY_CODE[parcel.carrier or "zto"]
            parcel.events = [
                pickup,
                Event(pickup.at + 9 * H, "在途", f"快件已到达【{spec.hub}】"),
                Event(
                    pickup.at + 21 * H,
                    "在途",
                    f"快件已从【{spec.hub}】发出，准备发往【{parcel.address.city}转运中心】",
                ),
            ]
            self.truth(
                order,
                "delivery_stalled",
                parcel.tracking or "",
                "shipped 7 days ago; the last scan is ~6 days old (stall_after 96h)",
            )

    def amount_mismatch(self) -> None:
        for delta in ("10.00", "-5.00", "0.50"):
            order = self.order(self.channel(), self.ago(3 * 24, 10 * 24))
            assert order.oms is not None
            order.oms.amount = order.amount + Decimal(delta)
            self.truth(
                order,
                "amount_mismatch",
                OMS_SOURCE,
                f"the OMS amount is off by {delta} (price changed after the OMS synced)",
            )

    def item_mismatch(self) -> None:
        for _ in range(3):
            order = self.order(
                self.channel(), self.ago(3 * 24, 10 * 24), Plan(carrier=self.sim.carrier())
            )
            parcel = order.parcels[0]
            sku, qty = parcel.items[0]
            if qty > 1:
                parcel.items[0] = (sku, qty - 1)
            else:
                wrong = next(p[0] for p in catalog.PRODUCTS if p[0] not in dict(order.lines))
                parcel.items[0] = (wrong, qty)
            self.truth(
                order,
                "item_mismatch",
                WMS,
                "the warehouse packed a different SKU or one unit short",
            )

    def address_mismatch(self) -> None:
        for _ in range(2):
            paid = self.ago(30, 40)
            order = self.order("taobao", paid, self.pinned(paid, paid + 6 * H))
            new = self.sim.person()
            new.name, new.phone = order.address.name, order.address.phone
            order.original_address, order.address = order.address, new
            order.updated_at = max(order.updated_at or paid, paid + 7 * H)
            self.truth(
                order,
                "address_mismatch",
                WMS,
                "the buyer changed the address (修改后的收货地址) after the label was printed",
            )
        order = self.order("pdd", self.ago(3 * 24, 6 * 24))
        order.parcels[0].address = copy.copy(order.address)
        order.parcels[0].address.detail = self.sim.street()
        self.truth(
            order,
            "address_mismatch",
            WMS,
            "the label carries another street address than the order",
        )

    def address_invalid(self) -> None:
        # An empty province is no defect when the city names it, so the street is what is missing.
        for channel, detail in (("pdd", ""), ("douyin", "不详")):
            order = self.order(channel, self.ago(3 * 24, 9 * 24))
            order.address.detail = detail
            self.truth(
                order,
                "address_invalid",
                "missing_detail",
                f"no street address ({detail or 'empty'}); the label copies it",
            )
        for channel in ("taobao", "douyin"):
            order = self.order(channel, self.ago(3 * 24, 9 * 24))
            order.address.phone = self.sim.person().phone[:10]
            self.truth(order, "address_invalid", "bad_phone", "a 10-digit phone number")
        for region in catalog.NO_DELIVERY_REGIONS:
            order = self.order(self.channel(), self.ago(4, 20))
            order.address.province, order.address.city, order.address.district = region
            self.truth(
                order,
                "address_invalid",
                "no_delivery_region",
                f"{region[0]} is in the config's no_delivery_regions",
            )

    def frequent_changes(self) -> None:
        versions: list[list[Order]] = [[], [], []]
        for index in range(3):
            paid = self.ago(20, 22)
            order = self.order(
                "pdd", paid, Plan(oms_lag=OMS_LAG, release_after=7 * H, ship_after=NEVER)
            )
            for step, hours in enumerate((0, 1, 3)):
                old = copy.deepcopy(order)
                old.oms, old.parcels = None, []
                old.updated_at = paid + timedelta(hours=hours)
                if index < 2:
                    old.address = copy.copy(order.address)
                    old.address.detail = self.sim.street()
                else:
                    spare = [p[0] for p in catalog.PRODUCTS if p[0] not in dict(order.lines)]
                    old.lines = [(spare[step], 1)]
                    old.amount = Decimal(PRICE[old.lines[0][0]])
                versions[step].append(old)
            order.updated_at = paid + 6 * H
            what = "address" if index < 2 else "items and amount"
            self.truth(
                order,
                "frequent_changes",
                "pdd",
                f"the {what} changed 3 times within 6h; seen only when snapshots/pdd are pulled before the final export",
            )
        self.world.snapshots = versions

    def duplicate_shipment(self) -> None:
        for _ in range(3):
            paid = self.ago(4 * 24, 6 * 24)
            order = self.order(
                self.channel(),
                paid,
                Plan(carrier=self.sim.carrier(allow_sf=False), confirm_after=NEVER),
            )
            first = order.parcels[0]
            assert first.shipped_at is not None
            again = Parcel(
                self.sim.ids.shipment_id(first.created_at),
                [order.order_id],
                first.created_at,
                list(first.items),
                order.address,
            )
            self.sim.ship(
                again,
                first.shipped_at + between(self.rng, 2 * H, 20 * H),
                self.sim.carrier(allow_sf=False),
            )
            order.parcels.append(again)
            self.truth(
                order,
                "duplicate_shipment",
                WMS,
                "the warehouse shipped the whole order twice (two 出库单, two waybills)",
            )

    # --- hard negatives ----------------------------------------------------------------------

    def hard_negatives(self) -> None:
        hn = "hard_negative"
        for _ in range(3):
            order = self.order(
                self.channel(),
                self.ago(5 * 24, 10 * 24),
                Plan(split=True, carrier=self.sim.carrier(allow_sf=False)),
                lines=2,
            )
            self.truth(
                order,
                "item_mismatch",
                "",
                "split into two parcels whose items sum to the order",
                hn,
            )
        for channel in ("taobao", "pdd", "douyin"):
            self._merged(channel)
        for channel in ("taobao", "shopify"):
            order = self.order(
                channel,
                self.ago(11 * 24, 12 * 24),
                Plan(confirm_after=12 * H, carrier=self.sim.carrier(allow_sf=False)),
            )
            assert order.status in ("delivered", "shipped")
            order.refund_amount = Decimal("20.00")
            self.truth(
                order,
                "amount_mismatch",
                "",
                "partial refund (20.00) after delivery; the paid amount is unchanged",
                hn,
            )
        for _ in range(2):
            paid = self.ago(30, 40)
            order = self.order("taobao", paid, self.pinned(paid, paid + 8 * H))
            new = self.sim.person()
            new.name, new.phone = order.address.name, order.address.phone
            order.original_address = copy.copy(order.address)
            for attr in ("province", "city", "district", "detail"):
                setattr(order.address, attr, getattr(new, attr))  # the parcel shares this object
            self.truth(
                order,
                "address_mismatch",
                "",
                "address changed 20 min after payment, before the label was printed",
                hn,
            )
        for channel in ("taobao", "pdd", "shopify"):
            order = self.order(channel, self.as_of - 90 * MIN, Plan(oms_lag=NEVER))
            self.truth(
                order,
                "missing_order",
                "",
                "paid 90 min ago, not in the OMS yet (missing_grace 2h)" + self._tz(channel),
                hn,
            )
        for channel in ("douyin", "shopify"):
            paid = self.ago(30)
            order = self.order(
                channel, paid, self.pinned(paid, self.ago(20), carrier="zto", pickup_after=NEVER)
            )
            self.truth(
                order,
                "ghost_shipment",
                "",
                "shipped 20h ago, no courier scan yet (pickup_grace 24h)" + self._tz(channel),
                hn,
            )
        paid = self.as_of - 40 * MIN
        order = self.order("pdd", paid, Plan(oms_lag=NEVER))
        order.oms = Oms(
            self.sim.ids.system_id(order.created_at),
            "待付款",
            order.created_at,
            None,
            order.created_at + MIN,
            order.amount,
        )
        self.truth(
            order,
            "status_mismatch",
            "",
            "paid 40 min ago, the OMS still says 待付款 (sync_grace 1h)",
            hn,
        )
        paid = self.ago(20)
        order = self.order(
            "taobao", paid, self.pinned(paid, self.as_of - 30 * MIN, channel_lag=NEVER)
        )
        self.truth(
            order,
            "status_mismatch",
            "",
            "the warehouse shipped 30 min ago, the channel not yet (sync_grace 1h)",
            hn,
        )
        for _ in range(3):
            stray = self.sim.new_order("taobao", self.ago(18 * 24, 25 * 24))
            self.sim.pay(stray, stray.created_at + 5 * MIN, Plan(pickup_after=NEVER))
            if stray.oms is not None:
                stray.oms.status = "已完成"
            self.world.extra_oms.append((OMS_SOURCE, stray))
            self.truth(
                stray,
                "orphan_order",
                "",
                "OMS row created before any channel export's period: not checked",
                hn,
            )
        for hours in (30, 45, 6 * 24):
            paid = self.ago(hours + 10)
            order = self.order(
                self.channel(),
                paid,
                self.pinned(paid, self.ago(hours), carrier="sf", transit=NEVER),
            )
            self.truth(
                order,
                "ghost_shipment" if hours < 96 else "delivery_stalled",
                "",
                f"SF parcel shipped {hours}h ago; SF is not covered by the scan data",
                hn,
            )
        for _ in range(3):
            order = self.order("pdd", self.ago(2 * 24, 6 * 24))
            order.address.phone = order.address.phone[:3] + "****" + order.address.phone[-4:]
            self.truth(order, "address_invalid", "", "platform-masked phone 1xx****xxxx", hn)
        for channel in ("taobao", "douyin"):
            paid = self.ago(30)
            order = self.order(channel, paid, self.pinned(paid, None))
            parcel = order.parcels[0]
            carrier = self.sim.carrier(allow_sf=False)
            parcel.carrier, parcel.tracking, parcel.status = (
                carrier,
                self.sim.ids.tracking(carrier),
                "已拦截",
            )
            order.status, order.updated_at = "refunded", self.ago(26)
            assert order.oms is not None
            order.oms.status, order.oms.updated_at = "已退款", self.ago(25)
            self.truth(
                order,
                "refund_not_stopped",
                "",
                "refunded before shipping; the warehouse intercepted the parcel (已拦截)",
                hn,
            )
        for channel in ("pdd", "taobao"):
            paid = self.ago(9 * 24)
            order = self.order(
                channel,
                paid,
                self.pinned(
                    paid,
                    self.ago(8 * 24),
                    carrier=self.sim.carrier(allow_sf=False),
                    confirm_after=NEVER,
                ),
            )
            order.status, order.updated_at = "refunded", self.ago(2 * 24)
            self.truth(
                order,
                "refund_not_stopped",
                "",
                "refunded (return) 2 days ago, long after the parcel shipped",
                hn,
            )

    def _tz(self, channel: str) -> str:
        return (
            "; Shopify times carry -0500, read as Beijing time they would look 13h older"
            if channel == "shopify"
            else ""
        )

    def _merged(self, channel: str) -> None:
        paid = self.ago(3 * 24, 6 * 24)
        first = self.order(channel, paid, self.pinned(paid, None))
        second = self.order(
            channel, paid + between(self.rng, 10 * MIN, 50 * MIN), self.pinned(paid, None)
        )
        second.address = first.address
        parcel = first.parcels[0]
        parcel.order_ids = sorted([first.order_id, second.order_id])
        parcel.items = first.lines + [
            line for line in second.lines if line[0] not in dict(first.lines)
        ]
        if len(parcel.items) != len(first.lines) + len(second.lines):
            second.lines = [line for line in second.lines if line[0] not in dict(first.lines)] or [
                (_other(first.lines), 1)
            ]
            second.amount = sum(Decimal(PRICE[s]) * q for s, q in second.lines) - second.discount
            parcel.items = first.lines + second.lines
            assert second.oms is not None
            second.oms.amount = second.amount
        second.parcels = [parcel]
        self.sim.ship(parcel, paid + 20 * H, self.sim.carrier(allow_sf=False))
        for order in (first, second):
            self.sim.settle(order)
            self.truth(
                order,
                "tracking_reused",
                "",
                "one parcel for two orders of the same buyer (merged shipment)",
                "hard_negative",
            )


def _other(lines: list[tuple[str, int]]) -> str:
    taken = dict(lines)
    return next(p[0] for p in catalog.PRODUCTS if p[0] not in taken)


SCENARIOS: tuple[Callable[[Builder], None], ...] = (
    Builder.missing_order,
    Builder.orphan_order,
    Builder.status_mismatch,
    Builder.refund_not_stopped,
    Builder.ghost_shipment,
    Builder.tracking_reused,
    Builder.unshipped_timeout,
    Builder.stuck_order,
    Builder.delivery_stalled,
    Builder.amount_mismatch,
    Builder.item_mismatch,
    Builder.address_mismatch,
    Builder.address_invalid,
    Builder.duplicate_shipment,
    Builder.hard_negatives,
)


def build_native(rng: random.Random, as_of: datetime, orders: int, rounds: int = 1) -> NativeWorld:
    """The native world: `rounds` copies of every scenario, clean orders up to `orders`."""
    builder = Builder(rng, as_of)
    for _ in range(rounds):
        for scenario in SCENARIOS:
            scenario(builder)
    # One set of history is enough: the snapshots are replayed in order, not per round.
    builder.frequent_changes()
    builder.clean(max(0, orders - len(builder.world.orders)))
    world = builder.world
    world.orders.sort(key=lambda o: (o.created_at, o.order_id))
    return world
