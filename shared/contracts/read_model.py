"""The workflow service's read model in Redis: its key names. Written only by the workflow
service; the gateway reads it to answer next-item and queue questions without a hop."""

from __future__ import annotations


class ReadModel:
    """Key names of the workflow read model. Every key of a task carries the task id as a
    hash tag, so one task's keys share a slot.

    Per task:
    - `meta`: hash — projectId, allocation, singleClass, allowNextOnlyOnDone, offersCompleted
      ("1"/"0"), batchSize, maxBatchWorkload, leaseTtlMs, heartbeatEveryMs;
    - `who`: hash — assignment id -> annotator email;
    - `returning`: hash — item id -> annotator email, items on their way back to the queue.
    Per annotator (email) of a task:
    - `state`: hash — assignment, current (the item in hand), next (the item moving on
      would reach), back (steps back in history), left ("1" after leaving), movedAt (ms, the
      last move applied);
    - `open`: sorted set — open items (no status), scored by work order;
    - `order`: hash — item -> work-order position of every item of the assignment;
    - `history`: list — items arrived at, oldest first;
    - `settings`: hash — autoNext, autoComplete, and movesFreely ("1" when, with these
      settings, no rule can refuse moving on from an item just classified, so the gateway may
      show the next item without waiting for the move);
    - `leases`: sorted set — item -> lease expiry (ms since the epoch), pulling tasks only;
    - `opened`: set — leased items that were open on the annotator's page;
    - `closing`: sorted set — items auto complete is completing, until the status lands.
    """

    ANNOTATOR_PARTS = ("state", "open", "order", "history", "settings", "leases", "opened",
                       "closing")

    def __init__(self, namespace: str) -> None:
        self.prefix = f"{namespace}:wf" if namespace else "wf"

    def task(self, task_id: str, part: str) -> str:
        return f"{self.prefix}:{{{task_id}}}:{part}"

    def annotator(self, task_id: str, email: str, part: str) -> str:
        return f"{self.prefix}:{{{task_id}}}:{part}:{email}"

    def lease_due(self) -> str:
        """Sorted set `task|email` -> the earliest lease expiry of that annotator."""
        return f"{self.prefix}:lease-due"

    def return_due(self) -> str:
        """Sorted set `task|email` -> when to ask the task service again to take items back."""
        return f"{self.prefix}:return-due"

    def processed(self, command_id: str) -> str:
        """The events a handled workflow command produced (JSON), for redeliveries."""
        return f"{self.prefix}:op:{command_id}"

    def waiting_moves(self) -> str:
        """Hash: command id -> a MoveOn (JSON) waiting for that command's outcome."""
        return f"{self.prefix}:after"

    def auto_completion(self, set_status_id: str) -> str:
        """`task|email|item` of a SetStatus sent by auto complete, to undo it if refused."""
        return f"{self.prefix}:ac:{set_status_id}"
