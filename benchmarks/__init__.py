"""ordersync's benchmark suite: ``python -m benchmarks --help``.

Every case runs in a fresh subprocess so its peak memory is its own; see benchmarks/README.md.
Nothing here is imported by the package or by the test suite.
"""
