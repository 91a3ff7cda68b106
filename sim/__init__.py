"""sim: deterministic simulations of flowcache (scenarios, workloads, faults, checkers)."""
