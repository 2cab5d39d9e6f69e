# One PyTorch rank (torch.distributed, Gloo) in a group with twinshot ranks: the same collectives as
# the 'interop' scenario of worker.ts. Usage: torch_rank.py OUT_DIR (rendezvous from the env://
# variables MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE).
import json
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

out_dir = sys.argv[1]
dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=60))
rank = dist.get_rank()
t = torch.arange(11, dtype=torch.float32) * (rank + 1)
dist.all_reduce(t)
b = torch.tensor([2.5, -1.0, 7.0] if rank == 0 else [0.0, 0.0, 0.0])
dist.broadcast(b, src=0)
c = torch.tensor([3.25, -8.5] if rank == 1 else [0.0, 0.0], dtype=torch.float64)
dist.broadcast(c, src=1)
dist.barrier()
with open(os.path.join(out_dir, f"python{rank}.json"), "w") as f:
    json.dump({"allReduce": t.tolist(), "broadcast0": b.tolist(), "broadcast1": c.tolist()}, f)
dist.barrier()
dist.destroy_process_group()
