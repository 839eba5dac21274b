"""PostgreSQL access for the auth schema: users, SIWE nonces, refresh tokens, operations.

SQL only. Models are SQLAlchemy 2.0 `Mapped[]` classes (the migration mirrors them);
the queries are Core statements on their tables, kept short and free of needless
transactions because the read paths are hot. Every method is sync, runs one
transaction and is called through the libs thread pool (`run_db`); where a change
must read-lock-decide-write, the rule comes in as a callable from `domain`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from ipheron_libs import db, events
from ipheron_libs.errors import Conflict, InvalidArgument, NotFound
from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from auth_service.domain import (
    NEW_USER_REPUTATION,
    NonceState,
    Operation,
    OperationKind,
    Page,
    ProfileChanges,
    RefreshOutcome,
    RefreshVerdict,
    StoredRefreshToken,
    User,
)

SCHEMA = "auth"


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    wallet_address: Mapped[str] = mapped_column(String(42), unique=True)
    username: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(120))
    reputation_score: Mapped[int] = mapped_column(Integer, server_default=str(NEW_USER_REPUTATION))
    region: Mapped[str] = mapped_column(String(100), server_default="Global")
    skills: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    bio: Mapped[str] = mapped_column(Text, server_default="")
    verified: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    total_sales: Mapped[Decimal] = mapped_column(Numeric(24, 6), server_default="0")
    total_assets_created: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NonceRow(Base):
    __tablename__ = "siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OperationRow(Base):
    __tablename__ = "user_operations"

    operation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 6))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


users = cast(Table, UserRow.__table__)
nonces = cast(Table, NonceRow.__table__)
refresh_tokens = cast(Table, RefreshTokenRow.__table__)
operations = cast(Table, OperationRow.__table__)

USER_COLUMNS = [c for c in users.c]  # noqa: C416 - a list, reused in every SELECT/RETURNING
# Built once: the hot reads then skip statement construction and cache-key generation.
USER_BY_ID = select(*USER_COLUMNS).where(users.c.id == bindparam("id"))
USER_BY_WALLET = select(*USER_COLUMNS).where(users.c.wallet_address == bindparam("wallet"))


def _apply_operation(kind: OperationKind) -> Any:
    """WITH op AS (INSERT the operation FROM the user's row, ON CONFLICT DO NOTHING) UPDATE the
    user's total only if op inserted, RETURNING the user: no row for a replay or a missing user."""
    amount = operations.c.amount.type
    source = select(bindparam("op_id", type_=String()), users.c.id, literal(kind.value, String()),
                    cast_(bindparam("op_amount", type_=amount), amount)).where(users.c.id == bindparam("uid"))
    op = (pg_insert(operations).from_select(["operation_id", "user_id", "kind", "amount"], source)
          .on_conflict_do_nothing(index_elements=["operation_id"]).returning(operations.c.operation_id).cte("op"))
    total = ({"total_sales": users.c.total_sales + bindparam("op_amount")} if kind is OperationKind.SALE
             else {"total_assets_created": users.c.total_assets_created + 1})
    return (update(users).where(users.c.id == bindparam("uid"), exists(select(op.c.operation_id)))
            .values(updated_at=func.now(), **total).returning(*USER_COLUMNS))


_APPLY_OPERATION = {kind: _apply_operation(kind) for kind in OperationKind}


def user_of(row: Any) -> User:
    """A users row → the domain record."""
    m = row._mapping
    return User(id=str(m["id"]), wallet_address=m["wallet_address"], username=m["username"], email=m["email"],
                reputation_score=m["reputation_score"], region=m["region"], skills=tuple(m["skills"] or ()),
                bio=m["bio"] or "", verified=m["verified"], total_sales=m["total_sales"],
                total_assets_created=m["total_assets_created"], created_at=m["created_at"],
                updated_at=m["updated_at"])


def _parse_uuid(value: str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"{field} must be a UUID", field=field) from None


class Repository:
    """All SQL of the auth service; each method is one transaction (or one autocommit statement)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = db.autocommit(engine)  # single-statement reads on the hot paths

    # --- nonces -------------------------------------------------------------
    def create_nonce(self, nonce: str, address: str, expires_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(nonces).values(nonce=nonce, address=address, expires_at=expires_at))
            # Keep the table small: expired nonces are useless (bounded delete per call).
            conn.execute(text(
                "DELETE FROM siwe_nonces WHERE nonce IN (SELECT nonce FROM siwe_nonces "
                "WHERE expires_at < now() - interval '1 hour' LIMIT 100)"))

    def nonce_state(self, nonce: str) -> NonceState | None:
        """A nonce as stored, to explain why consuming it failed."""
        with self.engine.connect() as conn:
            row = conn.execute(select(nonces.c.address, nonces.c.expires_at, nonces.c.used_at)
                               .where(nonces.c.nonce == nonce)).first()
        return None if row is None else NonceState(row.address, row.expires_at, row.used_at)

    # --- login ----------------------------------------------------------------
    def login(self, nonce: str, address: str, usernames: Sequence[str]) -> tuple[User, bool] | None:
        """Consume the nonce and get-or-create the user in one transaction.

        Returns None when the nonce was not consumable (unknown, used, expired or
        issued for another address); the single UPDATE ... RETURNING makes a replay
        lose the race even when two logins arrive at once. A new user gets the first
        of `usernames` that is free.
        """
        with self.engine.begin() as conn:
            consumed = conn.execute(
                update(nonces)
                .where(nonces.c.nonce == nonce, nonces.c.address == address, nonces.c.used_at.is_(None),
                       nonces.c.expires_at > func.now())
                .values(used_at=func.now())
                .returning(nonces.c.nonce)
            ).first()
            if consumed is None:
                return None
            row = conn.execute(USER_BY_WALLET, {"wallet": address}).first()
            if row is not None:
                return user_of(row), False
            # Two first logins of one wallet may race, and the short default username may
            # be taken: ON CONFLICT waits for the other insert, then we read what won.
            for username in usernames:
                row = conn.execute(pg_insert(users).values(wallet_address=address, username=username)
                                   .on_conflict_do_nothing().returning(*USER_COLUMNS)).first()
                if row is not None:
                    user = user_of(row)
                    events.emit(conn, "user.created", user.id, user.created_event())
                    return user, True
                row = conn.execute(USER_BY_WALLET, {"wallet": address}).first()
                if row is not None:
                    return user_of(row), False
            raise Conflict("could not create the user (username clash)")

    # --- refresh tokens -------------------------------------------------------------
    def store_refresh_token(self, user_id: str, family_id: uuid.UUID, token_hash: bytes, expires_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(refresh_tokens).values(id=uuid.uuid4(), family_id=family_id, user_id=uuid.UUID(user_id),
                                                       token_hash=token_hash, expires_at=expires_at))

    def rotate_refresh_token(self, token_hash: bytes, new_hash: bytes, new_expires_at: datetime,
                             decide: Callable[[StoredRefreshToken | None], RefreshVerdict]) -> RefreshOutcome:
        """Lock the presented token, let `decide` judge it, and apply the verdict atomically:
        ROTATE marks it used and stores its successor, REUSED revokes its whole family."""
        with self.engine.begin() as conn:
            row = conn.execute(select(refresh_tokens, (refresh_tokens.c.expires_at <= func.now()).label("expired"))
                               .where(refresh_tokens.c.token_hash == token_hash).with_for_update()).first()
            stored = None if row is None else StoredRefreshToken(
                family_id=str(row.family_id), revoked=row.revoked_at is not None, used=row.used_at is not None,
                expired=bool(row.expired))
            verdict = decide(stored)
            if row is None or verdict is not RefreshVerdict.ROTATE:
                if row is not None and verdict is RefreshVerdict.REUSED:
                    conn.execute(update(refresh_tokens)
                                 .where(refresh_tokens.c.family_id == row.family_id,
                                        refresh_tokens.c.revoked_at.is_(None))
                                 .values(revoked_at=func.now()))
                return RefreshOutcome(verdict)
            conn.execute(update(refresh_tokens).where(refresh_tokens.c.id == row.id).values(used_at=func.now()))
            conn.execute(insert(refresh_tokens).values(id=uuid.uuid4(), family_id=row.family_id, user_id=row.user_id,
                                                       token_hash=new_hash, expires_at=new_expires_at))
            user_row = conn.execute(USER_BY_ID, {"id": row.user_id}).first()
            if user_row is None:
                return RefreshOutcome(RefreshVerdict.UNKNOWN)
            return RefreshOutcome(RefreshVerdict.ROTATE, user_of(user_row))

    def revoke_family_of(self, token_hash: bytes) -> bool:
        """Revoke every token in the family of the given token; False if the token is unknown."""
        with self.engine.begin() as conn:
            family = conn.execute(select(refresh_tokens.c.family_id)
                                  .where(refresh_tokens.c.token_hash == token_hash)).scalar_one_or_none()
            if family is None:
                return False
            conn.execute(update(refresh_tokens)
                         .where(refresh_tokens.c.family_id == family, refresh_tokens.c.revoked_at.is_(None))
                         .values(revoked_at=func.now()))
            return True

    # --- users -------------------------------------------------------------------
    def get_user(self, user_id: str) -> User:
        uid = _parse_uuid(user_id)
        with self.reader.connect() as conn:
            row = conn.execute(USER_BY_ID, {"id": uid}).first()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return user_of(row)

    def get_user_by_wallet(self, address: str) -> User:
        with self.reader.connect() as conn:
            row = conn.execute(USER_BY_WALLET, {"wallet": address}).first()
        if row is None:
            raise NotFound(f"no user with wallet {address}")
        return user_of(row)

    def list_users(self, skill: str | None, region: str | None, page: Page) -> tuple[list[User], int]:
        conds: list[ColumnElement[bool]] = []
        if skill:
            conds.append(text("EXISTS (SELECT 1 FROM jsonb_array_elements_text(users.skills) s "
                              "WHERE lower(s) = lower(:skill))").bindparams(skill=skill))  # type: ignore[arg-type]
        if region:
            conds.append(func.lower(users.c.region) == region.lower())
        where = and_(*conds) if conds else None
        base = select(*USER_COLUMNS, func.count().over().label("total_count"))
        if where is not None:
            base = base.where(where)
        stmt = base.order_by(users.c.created_at, users.c.id).limit(page.per_page).offset(page.offset)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
            if rows:
                total = int(rows[0].total_count)
            else:  # page past the end: the window count is not available, count directly
                count = select(func.count()).select_from(users)
                total = int(conn.execute(count.where(where) if where is not None else count).scalar_one())
        return [user_of(r) for r in rows], total

    def update_profile(self, user_id: str, changes: ProfileChanges) -> User:
        uid = _parse_uuid(user_id, "user_id")
        values = changes.as_dict()
        try:
            with self.engine.begin() as conn:
                if not values:
                    row = conn.execute(USER_BY_ID, {"id": uid}).first()
                else:
                    username = values.get("username")
                    if isinstance(username, str):
                        clash = conn.execute(select(users.c.id).where(
                            func.lower(users.c.username) == username.lower(), users.c.id != uid)).first()
                        if clash is not None:
                            raise Conflict("username is already taken", field="username")
                    email = values.get("email")
                    if email:
                        clash = conn.execute(select(users.c.id).where(
                            users.c.email == email, users.c.id != uid)).first()
                        if clash is not None:
                            raise Conflict("email is already in use", field="email")
                    row = conn.execute(update(users).where(users.c.id == uid)
                                       .values(**values, updated_at=func.now()).returning(*USER_COLUMNS)).first()
        except IntegrityError as exc:
            # Two concurrent updates passed the pre-checks; the unique indexes decide.
            name = getattr(getattr(exc.orig, "diag", None), "constraint_name", "") or ""
            field = "email" if "email" in name else "username"
            raise Conflict(f"{field} is already taken", field=field) from None
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return user_of(row)

    def apply_operation(self, user_id: str, op: Operation,
                        check_replay: Callable[[Operation, str, str, Operation], None]) -> tuple[User, bool]:
        """Apply a totals change once per operation id; a replay (judged by `check_replay`)
        returns applied=False."""
        uid = _parse_uuid(user_id, "user_id")
        # Autocommit: the change is one statement, atomic by itself (no BEGIN/COMMIT round trips);
        # a replay only reads rows that no longer change (its operation) and the user as it is now.
        with self.reader.connect() as conn:
            # One statement records the operation (only for a user that exists) and moves the
            # total (the UPDATE's row lock orders concurrent changes of one user).
            row = conn.execute(_APPLY_OPERATION[op.kind], {"op_id": op.operation_id, "uid": uid,
                                                           "op_amount": op.amount}).first()
            if row is not None:
                return user_of(row), True
            # Nothing applied: a replay of the operation, or no such user.
            row = conn.execute(USER_BY_ID, {"id": uid}).first()
            prev = conn.execute(select(operations).where(operations.c.operation_id == op.operation_id)).first()
            if row is None or prev is None:
                raise NotFound(f"user {user_id} not found")
            check_replay(Operation(prev.operation_id, OperationKind(prev.kind), prev.amount), str(uid),
                         str(prev.user_id), op)
            return user_of(row), False
