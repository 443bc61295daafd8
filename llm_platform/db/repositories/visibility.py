"""Which rows a reader may see, as one SQL condition shared by every listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true


@dataclass(frozen=True)
class Visibility:
    """Rows of `user_id`, plus rows of the `experiment_ids` (a researcher's own experiments);
    `everyone` for admins. `only_user` narrows any of these to one user."""

    user_id: str | None = None
    experiment_ids: tuple[str, ...] = ()
    everyone: bool = False
    only_user: str | None = None

    def condition(self, user_col: Any, experiment_col: Any) -> ColumnElement[bool]:
        if self.everyone:
            scope: ColumnElement[bool] = true()
        else:
            parts = []
            if self.user_id is not None:
                parts.append(user_col == self.user_id)
            if self.experiment_ids:
                parts.append(experiment_col.in_(self.experiment_ids))
            scope = or_(*parts) if parts else false()
        if self.only_user is not None:
            return and_(scope, user_col == self.only_user)
        return scope
