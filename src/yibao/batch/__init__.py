"""Batch work over whole pooling areas: streaming Parquet parts through the kernel."""
