"""torchrun support: process group set-up from the environment torchrun provides, rank helpers, and SyncBatchNorm
that also works on CPU (gloo)."""
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def enabled(self):
        return self.world_size > 1


def init_distributed(device_type):
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL on CUDA, gloo on CPU."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(rank, world_size, local_rank)


def barrier():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


EXIT_WAIT_SECONDS = 300


def cleanup(wait_for_all=False):
    """Leave the process group. wait_for_all (a run that ended the same way on every process): first wait until
    every process is done with the group.

    A collective can return on one process while its last message to another is still on the wire (gloo's
    barrier too), and destroy_process_group shuts gloo's connections down at once: a process that left right
    after the barrier could cut the message its peer was still reading, which then failed ("Connection reset
    by peer" / "closed by peer") now and then, depending on timing. So after the barrier each process marks
    itself done in the rendezvous store (the key-value server that torchrun runs, not a gloo connection) and
    waits for every other mark: then no process can still be reading."""
    if dist.is_available() and dist.is_initialized():
        if wait_for_all:
            dist.barrier()  # on CUDA, NCCL's queued work is finished too
            store, world = dist.distributed_c10d._get_default_store(), dist.get_world_size()
            store.set(f"colorization_done/{dist.get_rank()}", "1")
            store.wait([f"colorization_done/{r}" for r in range(world)], timedelta(seconds=EXIT_WAIT_SECONDS))
        dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Sum over all processes, differentiable: the gradient of a sum is the sum of the gradients."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the global batch over all processes, for CPU / gloo,
    where torch.nn.SyncBatchNorm refuses to run. Same parameters, buffers and state-dict keys as BatchNorm;
    outside distributed training it is plain BatchNorm. Statistics are taken in two passes (mean, then the
    mean squared deviation), each one all-reduce, in float32."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x):
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        # One all-reduce carries the per-channel sums and the pixel count (ranks may hold different counts).
        sums = _AllReduceSum.apply(torch.cat([xf.sum(dims), xf.new_tensor([float(xf.numel() // xf.shape[1])])]))
        count = sums[-1]
        mean = sums[:-1] / count
        centered = xf - mean.view(shape)
        var = _AllReduceSum.apply((centered * centered).sum(dims)) / count  # biased, as BatchNorm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        y = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module, device_type):
    """Every BatchNorm layer -> one synchronised over the processes: torch.nn.SyncBatchNorm on CUDA,
    CpuSyncBatchNorm on CPU. Parameters and buffers are shared with the old layers (optimizer stays valid)."""
    if device_type != "cpu":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, _BatchNorm):
        out = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device_type))
    return out
