"""Pure loss functions of CGH: relations against a memory queue.

Every function takes tensors and returns tensors; none holds state. Shapes use
``N`` for the batch, ``C`` for the embedding size and ``K`` for the queue length.
Queues are held ``K x C`` in memory (one row per past image): for a long queue
and a small batch, ``queue @ embeddings.T`` is the fast GEMM layout on CPU
(N=32, C=512, K=32768 on 2 cores: 9.6 ms, against 17.6 ms for
``embeddings @ queue_CxK``). Checkpoints keep the paper's ``C x K``.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


class _QueueRelations(torch.autograd.Function):
    """Student and teacher rows against one queue in a single GEMM.

    Reading the queue once for both halves is what makes the pair cheap; the
    backward computes the gradient of the student rows only (the teacher's
    embeddings and the queue are constants), where autograd on a concatenation
    would also compute the teacher rows' unused gradient.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type='cuda')
    def forward(ctx, queue: Tensor, student: Tensor,
                teacher: Tensor) -> Tuple[Tensor, Tensor]:
        rows = torch.cat([student, teacher]).to(queue.dtype)
        # float32 and row-contiguous for the softmaxes that follow.
        if queue.device.type == 'cpu':
            logits = _blocked_relations(queue, rows)
        else:
            logits = torch.mm(rows, queue.T).float()
        ctx.save_for_backward(queue)
        ctx.student_dtype = student.dtype
        num_student = student.shape[0]
        student_logits, teacher_logits = logits[:num_student], logits[num_student:]
        ctx.mark_non_differentiable(teacher_logits)
        return student_logits, teacher_logits

    @staticmethod
    @torch.amp.custom_bwd(device_type='cuda')
    def backward(ctx, grad_student: Tensor, grad_teacher: Tensor):
        queue, = ctx.saved_tensors
        grad = None
        if ctx.needs_input_grad[1]:
            grad = _long_reduction_mm(grad_student.to(queue.dtype), queue)
            grad = grad.to(ctx.student_dtype)
        return None, grad, None


_CPU_SLOT_BLOCK = 2048


def _blocked_relations(queue: Tensor, rows: Tensor) -> Tensor:
    """``(rows @ queue.T).float()``, ``(N, K)`` contiguous, computed on CPU.

    ``queue[block] @ rows.T`` is the fast GEMM shape, but its ``(K, N)`` result
    must be transposed for row-wise softmaxes; transposing block by block while
    the block is still in cache is cheaper than one transpose of the whole
    result (2 threads, N=64, C=512: 17.4 against 19.6 ms at K=32768, 80 against
    104 ms at K=131072).
    """
    num_slots, num_rows = queue.shape[0], rows.shape[0]
    logits = torch.empty(num_rows, num_slots, dtype=torch.float32)
    block = torch.empty(min(_CPU_SLOT_BLOCK, num_slots), num_rows, dtype=queue.dtype)
    rows_t = rows.T
    for start in range(0, num_slots, _CPU_SLOT_BLOCK):
        stop = min(start + _CPU_SLOT_BLOCK, num_slots)
        part = torch.mm(queue[start:stop], rows_t, out=block[:stop - start])
        logits[:, start:stop].copy_(part.T)
    return logits


def _long_reduction_mm(left: Tensor, right: Tensor) -> Tensor:
    """``left @ right`` for ``(N, K) @ (K, C)`` with a small ``N`` and a long ``K``.

    On CPU the BLAS splits such a product poorly across threads; one batch per
    thread over slices of ``K``, summed afterwards, is about 1.3x faster (2
    threads, N=32, K=32768, C=512: 8.4 against 11.3 ms). GPUs split ``K`` by
    themselves, so they get the plain product.
    """
    parts = torch.get_num_threads()
    length = left.shape[1]
    if left.device.type != 'cpu' or parts < 2 or length % parts != 0:
        return torch.mm(left, right)
    left_parts = left.view(left.shape[0], parts, length // parts).transpose(0, 1)
    right_parts = right.view(parts, length // parts, right.shape[1])
    return torch.bmm(left_parts, right_parts).sum(dim=0)


def paired_relation_logits(student: Tensor, teacher: Tensor,
                           queue: Tensor) -> Tuple[Tensor, Tensor]:
    """Relations of student and teacher embeddings to the same queue, in one pass.

    Args:
        student: ``(N_s, C)`` L2-normalised embeddings; the gradient flows to them.
        teacher: ``(N_t, C)`` L2-normalised embeddings; treated as constants.
        queue: ``(K, C)`` L2-normalised queue, possibly in a lower precision. It
            gets no gradient.

    Returns:
        ``(N_s, K)`` and ``(N_t, K)`` cosine similarities in float32, so that
        the softmax and log-softmax that follow never run in half precision.
        The teacher's have no gradient.
    """
    if student.shape[1] != queue.shape[1] or teacher.shape[1] != queue.shape[1]:
        raise ValueError(f'relation logits: embeddings of {student.shape[1]} and '
                         f'{teacher.shape[1]} dims against a queue of {queue.shape[1]}-d '
                         f'rows; the queue must be (K, C).')
    return _QueueRelations.apply(queue, student, teacher.detach())


def relation_logits(embeddings: Tensor, queue: Tensor) -> Tensor:
    """Similarities of each embedding to every slot of a queue.

    Args:
        embeddings: ``(N, C)`` L2-normalised embeddings (the gradient flows to them).
        queue: ``(K, C)`` L2-normalised queue, possibly in a lower precision.

    Returns:
        ``(N, K)`` cosine similarities in float32.
    """
    return paired_relation_logits(embeddings, embeddings.new_empty((0, embeddings.shape[1])),
                                  queue)[0]


def soft_target_cross_entropy(target_probs: Tensor, logits: Tensor) -> Tensor:
    """Cross-entropy between a target distribution and predicted logits.

    ``mean_n( -sum_k target_probs[n, k] * log_softmax(logits)[n, k] )``

    Args:
        target_probs: ``(N, K)`` rows that sum to one. Treated as constants.
        logits: ``(N, K)`` un-normalised scores of the student.

    Returns:
        Scalar tensor. Equals the entropy of ``target_probs`` when
        ``softmax(logits) == target_probs``.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    return -(target_probs.detach().float() * log_probs).sum(dim=1).mean()


def cross_context_loss(student_logits: Tensor, teacher_logits: Tensor,
                       student_temp: float, teacher_temp: float) -> Tensor:
    """Relation distillation from one context of the teacher to another of the student.

    ``CE(softmax(teacher_logits / teacher_temp), student_logits / student_temp)``

    Args:
        student_logits: ``(N, K)`` student relations to a queue (with gradient).
        teacher_logits: ``(N, K)`` teacher relations to the aligned queue.
        student_temp: temperature of the student distribution.
        teacher_temp: temperature of the (sharper) teacher distribution.

    Returns:
        Scalar tensor; no gradient flows into ``teacher_logits``.
    """
    target = F.softmax(teacher_logits.detach().float() / teacher_temp, dim=1)
    return soft_target_cross_entropy(target, student_logits / student_temp)


def info_nce(query: Tensor, key: Tensor, negative_logits: Tensor,
             temperature: float) -> Tensor:
    """InfoNCE of MoCo: the key of the same image against the queue's negatives.

    Args:
        query: ``(N, C)`` L2-normalised student embeddings (with gradient).
        key: ``(N, C)`` L2-normalised teacher embeddings of the same images.
        negative_logits: ``(N, K)`` similarities of ``query`` to the queue,
            i.e. :func:`relation_logits` ``(query, queue)``; passed in so that the
            relation logits already computed for the cross-context losses are
            reused rather than recomputed.
        temperature: softmax temperature (0.2 in CGH).

    Returns:
        Scalar tensor: cross-entropy with the positive at index 0.
    """
    positive = (query.float() * key.detach().float()).sum(dim=1, keepdim=True)
    logits = torch.cat([positive, negative_logits.float()], dim=1) / temperature
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, labels)


def loss_warmup_alpha(iteration: int, warmup_iters: int) -> float:
    """Weight of the cross-context losses during the InfoNCE warm-up.

    ``alpha = iteration / warmup_iters`` for ``iteration < warmup_iters``, then 1.
    Derived from the iteration counter alone, so a resumed run gets the same value.
    """
    if iteration < 0:
        raise ValueError(f'iteration must be >= 0, got {iteration}')
    if warmup_iters <= 0:
        return 1.0
    return min(1.0, iteration / warmup_iters)
