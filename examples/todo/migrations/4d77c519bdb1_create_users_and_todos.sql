-- revision: 4d77c519bdb1
-- down_revision: 
-- message: create users and todos
-- created: 2026-11-24T12:23:24Z

-- +upgrade

CREATE TYPE "todo_status" AS ENUM (E'pending', E'completed', E'archived');

CREATE TABLE "users" (
  "id" serial NOT NULL,
  "email" character varying(255) NOT NULL,
  "created_at" timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "pk_users" PRIMARY KEY ("id"),
  CONSTRAINT "uq_users_email" UNIQUE ("email")
);

CREATE TABLE "todos" (
  "id" serial NOT NULL,
  "title" character varying(255) NOT NULL,
  "description" text,
  "status" todo_status NOT NULL DEFAULT 'pending'::todo_status,
  "user_id" integer NOT NULL,
  "created_at" timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at" timestamp with time zone NOT NULL DEFAULT now(),
  "deleted_at" timestamp with time zone,
  CONSTRAINT "pk_todos" PRIMARY KEY ("id"),
  CONSTRAINT "fk_todos_user_id_users" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE
);

CREATE INDEX "ix_todos_title" ON "todos" ("title");

CREATE INDEX "ix_todos_user_id" ON "todos" ("user_id");

-- +downgrade

DROP TABLE "todos";

DROP TABLE "users";

DROP TYPE IF EXISTS "todo_status";
