#!/usr/bin/env python3
"""The Foundation drive through magma's own Python (magma.metawflrun), for make bench.

Not part of the product: make bench runs it only when magma can be imported (set
MAGMA_PYTHONPATH to a checkout of dbmi-bgm/magma). Usage: bench_magma_py.py RUN.json CAP
Prints: rounds seconds
"""
import json
import sys
import time

from magma.metawflrun import MetaWorkflowRun

doc = json.load(open(sys.argv[1]))
cap = int(sys.argv[2])
run = MetaWorkflowRun(doc)
t0 = time.process_time()
rounds = 0
while True:
    rounds += 1
    for wfr in run.to_run()[:cap]:
        run.update_attribute(wfr.shard_name, "status", "running")
    for wfr in run.running():
        wfr.status = "completed"
    if run.update_status() == "completed":
        break
print(rounds, time.process_time() - t0)
