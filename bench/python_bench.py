#!/usr/bin/python3
"""The Python contenders of pgorm_bench: SQLAlchemy 1.4 ORM (psycopg2) and raw asyncpg.

Runs every workload once per contender (one "round") against the database that libpq's PG*
variables (or DATABASE_URL) name, already seeded by pgorm_bench, and prints one JSON line per
measurement. pgorm_bench launches it once per round, so Python and C++ runs interleave.

    /usr/bin/python3 bench/python_bench.py --round 0 [--only get_pk,load_10k]
    /usr/bin/python3 bench/python_bench.py --versions

Debian's python3-sqlalchemy, python3-psycopg2 and python3-asyncpg live under /usr/bin/python3.
"""
import argparse
import asyncio
import json
import os
import sys
import time

# The seed's shape and the workload sizes: keep in step with bench/common.hpp.
USERS, TODOS_PER_USER = 5000, 20
TODOS = USERS * TODOS_PER_USER
INSERT_ONE, BULK, GETS, LOAD_SMALL = 2000, 10000, 5000, 10000
USERS_LOADED, UPDATES, LIST_QUERIES, PAGE_SIZE = 1000, 1000, 100, 20
WORKLOADS = ["insert_one", "bulk_insert", "get_pk", "get_pk_in_tx", "load_10k", "load_100k",
             "users_todos", "update_1000", "list_page"]


def lookup_id(k):
    return 1 + (k * 7919) % TODOS


def list_offset(k):
    return (k % 25) * PAGE_SIZE


def new_todo(i):
    return dict(title=f"New todo to insert #{i}",
                description=f"Inserted by the benchmark, row {i}" if i % 2 == 0 else None,
                status="pending", user_id=1 + i % USERS)


def versions():
    import sqlalchemy, psycopg2, asyncpg
    return {"python": sys.version.split()[0], "sqlalchemy": sqlalchemy.__version__,
            "psycopg2": psycopg2.__version__.split()[0], "asyncpg": asyncpg.__version__}


# ---- SQLAlchemy 1.4 ORM, used the way its documentation shows ----

def sqlalchemy_contender():
    from sqlalchemy import (Column, DateTime, Enum, ForeignKey, Integer, String, Text, and_,
                            create_engine, func, insert, select)
    from sqlalchemy.orm import Session, declarative_base, relationship, selectinload

    Base = declarative_base()

    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        email = Column(String(255), unique=True, nullable=False)
        created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())
        updated_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                            onupdate=func.now())
        todos = relationship(
            "Todo", primaryjoin="and_(User.id == Todo.user_id, Todo.deleted_at.is_(None))",
            viewonly=True)

    class Todo(Base):
        __tablename__ = "todos"
        id = Column(Integer, primary_key=True)
        title = Column(String(255), nullable=False)
        description = Column(Text)
        status = Column(Enum("pending", "completed", "archived", name="todo_status",
                             create_type=False), nullable=False, server_default="pending")
        user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
        created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())
        updated_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                            onupdate=func.now())
        deleted_at = Column(DateTime(timezone=True))

    url = os.environ.get("DATABASE_URL") or "postgresql+psycopg2://"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    engine = create_engine(url, future=True)
    live = Todo.deleted_at.is_(None)

    def insert_one():
        rows = [new_todo(i) for i in range(INSERT_ONE)]
        n = 0
        start = time.perf_counter()
        for r in rows:
            with Session(engine) as s:
                t = Todo(**r)
                s.add(t)
                s.flush()
                n += t.id > 0
                s.commit()
        return time.perf_counter() - start, n

    def bulk_add_all():
        rows = [new_todo(i) for i in range(BULK)]
        start = time.perf_counter()
        with Session(engine) as s:
            objects = [Todo(**r) for r in rows]
            s.add_all(objects)
            s.flush()
            n = sum(1 for t in objects if t.id)
            s.commit()
        return time.perf_counter() - start, n

    def bulk_insert_statement():
        rows = [new_todo(i) for i in range(BULK)]
        start = time.perf_counter()
        with Session(engine) as s:
            s.execute(insert(Todo), rows)  # executemany; psycopg2's rowcount is the last page's
            s.commit()
        return time.perf_counter() - start, len(rows)

    def get_pk():
        n = 0
        start = time.perf_counter()
        for k in range(GETS):
            with Session(engine) as s:
                t = s.get(Todo, lookup_id(k))
                n += t is not None and t.deleted_at is None
        return time.perf_counter() - start, n

    def get_pk_in_tx():
        n = 0
        start = time.perf_counter()
        for k in range(GETS):
            with Session(engine) as s, s.begin():
                t = s.get(Todo, lookup_id(k))
                n += t is not None and t.deleted_at is None
        return time.perf_counter() - start, n

    def load(where):
        def run():
            start = time.perf_counter()
            with Session(engine) as s:
                q = select(Todo).where(live)
                if where is not None:
                    q = q.where(where)
                todos = s.execute(q).scalars().all()
            return time.perf_counter() - start, len(todos)
        return run

    def users_todos():
        start = time.perf_counter()
        with Session(engine) as s:
            users = s.execute(select(User).where(User.id <= USERS_LOADED).order_by(User.id)
                              .options(selectinload(User.todos))).scalars().all()
            n = sum(len(u.todos) for u in users)
        return time.perf_counter() - start, n

    def update_1000():
        stamp = time.time_ns()  # a new value in every run: every loaded object is dirty
        start = time.perf_counter()
        with Session(engine) as s:
            todos = s.execute(select(Todo).where(live, Todo.id <= UPDATES)).scalars().all()
            for t in todos:
                t.description = f"updated by SQLAlchemy at {stamp} #{t.id}"
            s.commit()
        return time.perf_counter() - start, len(todos)

    def list_page():
        n = 0
        start = time.perf_counter()
        for k in range(LIST_QUERIES):
            with Session(engine) as s:
                q = (select(Todo).where(live, and_(Todo.status == "pending",
                                                   Todo.title.ilike("%milk%")))
                     .order_by(Todo.created_at.desc()).offset(list_offset(k)).limit(PAGE_SIZE))
                n += len(s.execute(q).scalars().all())
        return time.perf_counter() - start, n

    name = "SQLAlchemy ORM"
    return [("insert_one", name, insert_one),
            ("bulk_insert", "SQLAlchemy add_all+commit", bulk_add_all),
            ("bulk_insert", "SQLAlchemy insert() executemany", bulk_insert_statement),
            ("get_pk", name, get_pk), ("get_pk_in_tx", name, get_pk_in_tx),
            ("load_10k", name, load(Todo.id <= LOAD_SMALL)), ("load_100k", name, load(None)),
            ("users_todos", name, users_todos), ("update_1000", name, update_1000),
            ("list_page", name, list_page)]


# ---- raw asyncpg: hand-written SQL, rows turned into small objects ----

class TodoObject:
    __slots__ = ("id", "title", "description", "status", "user_id", "created_at", "updated_at",
                 "deleted_at")

    def __init__(self, record):
        (self.id, self.title, self.description, self.status, self.user_id, self.created_at,
         self.updated_at, self.deleted_at) = record


class UserObject:
    __slots__ = ("id", "email", "created_at", "updated_at", "todos")

    def __init__(self, record):
        self.id, self.email, self.created_at, self.updated_at = record
        self.todos = []


SELECT_TODOS = ("SELECT id, title, description, status, user_id, created_at, updated_at, "
                "deleted_at FROM todos")
GET = SELECT_TODOS + " WHERE id = $1 AND deleted_at IS NULL"
LOAD_UP_TO = SELECT_TODOS + " WHERE deleted_at IS NULL AND id <= $1"
LOAD_ALL = SELECT_TODOS + " WHERE deleted_at IS NULL"
USERS_UP_TO = "SELECT id, email, created_at, updated_at FROM users WHERE id <= $1 ORDER BY id"
TODOS_OF_USERS = SELECT_TODOS + " WHERE deleted_at IS NULL AND user_id = ANY($1)"
LIST = (SELECT_TODOS + " WHERE deleted_at IS NULL AND status = $1 AND title ILIKE $2 "
        "ORDER BY created_at DESC LIMIT $3 OFFSET $4")
INSERT = ("INSERT INTO todos (title, description, status, user_id) VALUES ($1, $2, $3, $4) "
          "RETURNING id")
UPDATE = "UPDATE todos SET description = $1, updated_at = now() WHERE id = $2"


def asyncpg_contender(conn):
    async def insert_one():
        rows = [new_todo(i) for i in range(INSERT_ONE)]
        n = 0
        start = time.perf_counter()
        for r in rows:
            n += await conn.fetchval(INSERT, r["title"], r["description"], r["status"],
                                     r["user_id"]) > 0
        return time.perf_counter() - start, n

    async def bulk_copy():
        rows = [new_todo(i) for i in range(BULK)]
        start = time.perf_counter()
        records = [(r["title"], r["description"], r["status"], r["user_id"]) for r in rows]
        status = await conn.copy_records_to_table(
            "todos", records=records, columns=["title", "description", "status", "user_id"])
        return time.perf_counter() - start, int(status.split()[-1])

    async def get_pk():
        n = 0
        start = time.perf_counter()
        for k in range(GETS):
            r = await conn.fetchrow(GET, lookup_id(k))
            if r is not None:
                n += TodoObject(r).id > 0
        return time.perf_counter() - start, n

    async def get_pk_in_tx():
        n = 0
        start = time.perf_counter()
        for k in range(GETS):
            async with conn.transaction():
                r = await conn.fetchrow(GET, lookup_id(k))
                if r is not None:
                    n += TodoObject(r).id > 0
        return time.perf_counter() - start, n

    def load(sql, *args):
        async def run():
            start = time.perf_counter()
            todos = [TodoObject(r) for r in await conn.fetch(sql, *args)]
            return time.perf_counter() - start, len(todos)
        return run

    async def users_todos():
        start = time.perf_counter()
        users = [UserObject(r) for r in await conn.fetch(USERS_UP_TO, USERS_LOADED)]
        by_id = {u.id: u for u in users}
        for r in await conn.fetch(TODOS_OF_USERS, [u.id for u in users]):
            t = TodoObject(r)
            by_id[t.user_id].todos.append(t)
        n = sum(len(u.todos) for u in users)
        return time.perf_counter() - start, n

    async def update_1000():
        stamp = time.time_ns()
        start = time.perf_counter()
        todos = [TodoObject(r) for r in await conn.fetch(LOAD_UP_TO, UPDATES)]
        for t in todos:
            t.description = f"updated by asyncpg at {stamp} #{t.id}"
        async with conn.transaction():
            await conn.executemany(UPDATE, [(t.description, t.id) for t in todos])
        return time.perf_counter() - start, len(todos)

    async def list_page():
        n = 0
        start = time.perf_counter()
        for k in range(LIST_QUERIES):
            n += len([TodoObject(r) for r in await conn.fetch(LIST, "pending", "%milk%", PAGE_SIZE,
                                                               list_offset(k))])
        return time.perf_counter() - start, n

    name = "asyncpg"
    return [("insert_one", name, insert_one), ("bulk_insert", "asyncpg COPY", bulk_copy),
            ("get_pk", name, get_pk), ("get_pk_in_tx", name, get_pk_in_tx),
            ("load_10k", name, load(LOAD_UP_TO, LOAD_SMALL)), ("load_100k", name, load(LOAD_ALL)),
            ("users_todos", name, users_todos), ("update_1000", name, update_1000),
            ("list_page", name, list_page)]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--only", default="")
    parser.add_argument("--versions", action="store_true")
    args = parser.parse_args()
    if args.versions:
        print(json.dumps(versions()))
        return
    only = set(filter(None, args.only.split(",")))

    import asyncpg
    import psycopg2
    dsn = os.environ.get("DATABASE_URL") or None
    conn = await asyncpg.connect(dsn)
    await conn.execute("SET TimeZone = 'UTC'")
    admin = psycopg2.connect(dsn or "")
    admin.autocommit = True

    def restore(workload):
        with admin.cursor() as c:
            if workload in ("insert_one", "bulk_insert"):
                c.execute(f"DELETE FROM todos WHERE id > {TODOS}")
                c.execute("VACUUM ANALYZE todos")
            elif workload == "update_1000":
                c.execute("VACUUM ANALYZE todos")

    entries = sqlalchemy_contender() + asyncpg_contender(conn)
    for workload in WORKLOADS:
        if only and workload not in only:
            continue
        mine = [e for e in entries if e[0] == workload]
        # Interleave: alternate which contender goes first from round to round.
        shift = args.round % len(mine)
        for w, contender, run in mine[shift:] + mine[:shift]:
            result = run()
            if asyncio.iscoroutine(result):
                result = await result
            seconds, rows = result
            restore(w)
            print(json.dumps({"workload": w, "contender": contender, "round": args.round,
                              "seconds": seconds, "rows": int(rows)}), flush=True)
    await conn.close()
    admin.close()


if __name__ == "__main__":
    asyncio.run(main())
