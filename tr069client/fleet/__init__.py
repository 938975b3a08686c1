"""Fleet mode: many simulated CPEs in one process, each driven by the daemon's own engine,
over one non-blocking loop (`tr069client fleet`). Nothing here is imported by `run`."""
