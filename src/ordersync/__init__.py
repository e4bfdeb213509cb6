"""ordersync: reconcile a merchant's orders across channels, OMS, warehouse and couriers."""

__version__ = "0.1.0"
