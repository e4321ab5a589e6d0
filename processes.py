"""Running one distillation over several processes (torchrun), kept out of the main loop.

Under torchrun (WORLD_SIZE > 1) each process trains on its share of every epoch and
DistributedDataParallel averages gradients; rank 0 evaluates, prints and saves. In a
single process every function here is a no-op, so distill.py reads as if this file
did not exist.

    torchrun --nproc_per_node 2 distill.py ...   # same command line as python distill.py ...
"""
import datetime
import os
import sys

import torch


def start(device):
    """Join the process group (gloo on CPU, nccl on GPU); returns this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return device
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    # rank 0 evaluates alone while the others wait at the next step: allow slow evaluations
    torch.distributed.init_process_group("nccl" if on_gpu else "gloo", timeout=datetime.timedelta(hours=2))
    if not is_main():
        sys.stdout = open(os.devnull, "w")  # the other ranks' prints would only repeat rank 0's
    return device


def stop():
    if torch.distributed.is_initialized():
        barrier()  # nobody leaves while rank 0 is still writing results
        torch.distributed.destroy_process_group()


def barrier():
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def is_main():
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def world_size():
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def any_process(flag):
    """True if `flag` is true on any process, so that every rank stops a failed run together."""
    if not torch.distributed.is_initialized():
        return flag
    flag = torch.tensor(float(flag))
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag)


def shard(batches):
    """This process's share of an epoch: every world_size-th batch, the list first cut to a multiple
    of world_size so that every rank starts its next epoch at the same step."""
    n = world_size()
    if len(batches) < n:
        raise ValueError(f"{len(batches)} batch(es) per epoch cannot feed {n} processes; use more data")
    rank = torch.distributed.get_rank() if n > 1 else 0
    return batches[:len(batches) - len(batches) % n][rank::n]


def wrap_for_training(model, device):
    """DistributedDataParallel under torchrun (hidden_projections included: they are submodules)."""
    if not torch.distributed.is_initialized():
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
