"""The LNS's tunable numbers, in one place (each with what it was measured on)."""

from __future__ import annotations

LNS_PAIRS = 20_000  # above this many (task, allowed node) pairs: LNS from the start (the
# exact path's share of the hybrid was wasted there: cloud balancing with 100 computers, 30,000
# pairs, reached 103,250 by LNS alone in 60 s, 105,590-107,140 with the hybrid)
HYBRID_PAIRS = 400  # above this many: exact first, LNS if the exact path proves nothing
EXACT_SHARE = 0.3  # hybrid: share of the time limit for the exact path
EXACT_SHARE_ASSIGNMENT = 0.1  # ... when the Lagrangian applies (GAP-shaped problems)
SMALL_FLEET = 64  # at most this many nodes: the `tasks` neighbourhood (every node free)
SUB_SECONDS = 1.0  # time limit of one sub-solve (deterministic: deterministic time)
MIN_SUB_SECONDS = 0.2
MIN_ADAPTED_SECONDS = 0.1  # sub-solves shrink down to this while most of them improve
DET_SUB_SECONDS = 0.25  # deterministic: CP-SAT deterministic time of one sub-solve
MAX_SUB_PAIRS = 20_000  # (task, node) pairs of one sub-model at most
MAX_SUB_TASKS = 800
LAGRANGE_SECONDS = 3.0  # subgradient time at most (deterministic: LAGRANGE_STEPS steps)
LAGRANGE_STEPS = 150
REDUCED_SECONDS = 5.0  # the model over the pairs left after elimination, at most
REDUCED_SHARE = 0.7  # ... solved again when the pairs left shrank to this share
CORE_TASKS_PAIRS = 3  # `tasks` with pair elimination: each task on its 3 best pairs
CORE_NODE_PAIRS = 4  # node neighbourhoods with pair elimination: each task on its 4 best
CORE_FACTOR = 2.5  # the `core` neighbourhood gets this many sub-solve budgets
CORE_NOISE = 1.0  # log-normal noise (sigma) on the penalties that rank the `core` pairs, so
# that successive core sub-models differ (without it they are nearly the same model each time);
# chu-beasley d20100 and d20200 at 20 s, seeds 0-2: mean gap 0.52 % without, 0.35 % with
CORE_SHARE = 0.5  # with pair elimination: share of the steps that solve the `core`
INSERT_SHARE = 0.3  # while placeable tasks are unplaced: share of the steps that insert
DETERMINISTIC_STEPS = 200  # sub-solves in deterministic mode without a time limit
STALL_STEPS = 1_000  # without a time limit: stop after this many sub-solves without a gain
MAX_CHAIN = 40.0  # nodes of a `chain` neighbourhood at most
WATCH_INTERVAL = 0.02
QUICK_FIRST_SECONDS = 2.0  # fleet-wide moves (quick.py) right after the start, at most
QUICK_SECONDS = 0.01  # ... and after each step
QUICK_SHARE = 0.05  # ... never more than this share of the time left
QUICK_NODES = 20  # deterministic: nodes tried after each step
PACK_FIRST_SHARE = 0.5  # packing moves (costpack.py) right after the start: this share of the
# time left
PACK_PATIENCE = 3_000  # ... ended once this many moves in a row found no better plan (problems
# the packer cannot improve go on to the sub-solves)
PACK_RATIO = 1.0  # ... then after each step this many times the step's seconds
PACK_FIRST_MOVES = 5_000  # deterministic: moves after the start
PACK_STEP_MOVES = 200  # ... and after each step
