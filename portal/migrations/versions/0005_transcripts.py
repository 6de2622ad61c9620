"""transcripts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:39:55.808401
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# A released transcript is frozen: only its revocation (status → revoked and the revocation fields) may
# change it; a revoked one never changes again; neither can be deleted; their signatures are frozen; and the
# data it was made from (assessment cells, subject comments, homeroom records of that student and year)
# cannot be inserted, changed or deleted while a released version exists.
FROZEN_COLUMNS = ("student_id", "school_year_id", "class_id", "version", "record_id", "verify_code",
                  "supersedes_id", "regime", "data_json", "data_sha256", "xml", "pdf", "pdf_sha256", "issue_date",
                  "issue_place", "prepared_by", "prepared_at", "released_by", "released_at")
DATA_TABLES = ("assessments", "subject_comments", "student_records")
MSG_FROZEN = "transcript released: it cannot change"
MSG_DATA = "transcript released: its data cannot change"


def _sqlite_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_COLUMNS)
    out = [
        "CREATE TRIGGER transcripts_frozen BEFORE UPDATE ON transcripts "
        f"WHEN OLD.status = 'revoked' OR (OLD.status = 'released' AND (NEW.status <> 'revoked' OR {changed})) "
        f"BEGIN SELECT RAISE(ABORT, '{MSG_FROZEN}'); END",
        "CREATE TRIGGER transcripts_no_delete BEFORE DELETE ON transcripts "
        f"WHEN OLD.status IN ('released', 'revoked') BEGIN SELECT RAISE(ABORT, '{MSG_FROZEN}'); END",
    ]
    for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        out.append(
            f"CREATE TRIGGER transcript_signatures_frozen_{event.lower()} BEFORE {event} ON transcript_signatures "
            f"WHEN (SELECT status FROM transcripts WHERE id = {row}.transcript_id) IN ('released', 'revoked') "
            f"BEGIN SELECT RAISE(ABORT, '{MSG_FROZEN}'); END")
    for table in DATA_TABLES:
        for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            cond = " OR ".join(
                f"EXISTS (SELECT 1 FROM transcripts t WHERE t.student_id = {r}.student_id "
                f"AND t.school_year_id = {r}.school_year_id AND t.status = 'released')" for r in rows)
            out.append(f"CREATE TRIGGER {table}_released_{event.lower()} BEFORE {event} ON {table} "
                       f"WHEN {cond} BEGIN SELECT RAISE(ABORT, '{MSG_DATA}'); END")
    return out


def _pg_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
    released = ("EXISTS (SELECT 1 FROM transcripts t WHERE t.student_id = {r}.student_id "
                "AND t.school_year_id = {r}.school_year_id AND t.status = 'released')")
    out = [
        "CREATE FUNCTION transcripts_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'DELETE' THEN "
        f"  IF OLD.status IN ('released', 'revoked') THEN RAISE EXCEPTION '{MSG_FROZEN}'; END IF; RETURN OLD; "
        "END IF; "
        f"IF OLD.status = 'revoked' OR (OLD.status = 'released' AND (NEW.status <> 'revoked' OR {changed})) "
        f"THEN RAISE EXCEPTION '{MSG_FROZEN}'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER transcripts_frozen BEFORE UPDATE OR DELETE ON transcripts "
        "FOR EACH ROW EXECUTE FUNCTION transcripts_frozen()",
        "CREATE FUNCTION transcript_signatures_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF (TG_OP <> 'INSERT' AND (SELECT status FROM transcripts WHERE id = OLD.transcript_id) "
        "    IN ('released', 'revoked')) "
        "OR (TG_OP <> 'DELETE' AND (SELECT status FROM transcripts WHERE id = NEW.transcript_id) "
        "    IN ('released', 'revoked')) "
        f"THEN RAISE EXCEPTION '{MSG_FROZEN}'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER transcript_signatures_frozen BEFORE INSERT OR UPDATE OR DELETE ON transcript_signatures "
        "FOR EACH ROW EXECUTE FUNCTION transcript_signatures_frozen()",
        "CREATE FUNCTION transcript_data_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF (TG_OP <> 'INSERT' AND {released.format(r='OLD')}) "
        f"OR (TG_OP <> 'DELETE' AND {released.format(r='NEW')}) "
        f"THEN RAISE EXCEPTION '{MSG_DATA}'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
    ]
    for table in DATA_TABLES:
        out.append(f"CREATE TRIGGER {table}_released BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION transcript_data_frozen()")
    return out


def _drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {t}_released ON {t}" for t in DATA_TABLES] + [
            "DROP TRIGGER IF EXISTS transcript_signatures_frozen ON transcript_signatures",
            "DROP TRIGGER IF EXISTS transcripts_frozen ON transcripts",
            "DROP FUNCTION IF EXISTS transcript_data_frozen()",
            "DROP FUNCTION IF EXISTS transcript_signatures_frozen()",
            "DROP FUNCTION IF EXISTS transcripts_frozen()"]
    names = ["transcripts_frozen", "transcripts_no_delete"]
    names += [f"transcript_signatures_frozen_{e}" for e in ("insert", "update", "delete")]
    names += [f"{t}_released_{e}" for t in DATA_TABLES for e in ("insert", "update", "delete")]
    return [f"DROP TRIGGER IF EXISTS {n}" for n in names]



def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('transcripts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_year_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('verify_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('regime', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('data_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('data_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('issue_place', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.Column('prepared_by', sa.Integer(), nullable=False),
    sa.Column('prepared_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('released_by', sa.Integer(), nullable=True),
    sa.Column('released_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoke_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('revoke_minutes_number', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('revoke_minutes_date', sa.Date(), nullable=True),
    sa.Column('revoke_approver', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=True),
    sa.Column('revoke_scan_path', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('revoke_scan_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ),
    sa.ForeignKeyConstraint(['prepared_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['released_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['school_year_id'], ['school_years.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['transcripts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('student_id', 'school_year_id', 'version'),
    sa.UniqueConstraint('verify_code')
    )
    with op.batch_alter_table('transcripts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcripts_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transcripts_student_id'), ['student_id'], unique=False)
        batch_op.create_index('ix_transcripts_year_status', ['school_year_id', 'status'], unique=False)

    op.create_table('job_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'transcript_id')
    )
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_items_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_items_transcript_id'), ['transcript_id'], unique=False)

    op.create_table('transcript_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('signer_name', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.Column('subjects', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('field_name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('signed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('signer_key_id', sa.Integer(), nullable=True),
    sa.Column('cert_serial', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['signer_key_id'], ['signer_keys.id'], ),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('transcript_id', 'position')
    )
    with op.batch_alter_table('transcript_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_signatures_transcript_id'), ['transcript_id'], unique=False)
        batch_op.create_index('ix_transcript_signatures_user_status', ['user_id', 'status'], unique=False)

    # ### end Alembic commands ###
    dialect = op.get_bind().dialect.name
    for statement in _pg_statements() if dialect == "postgresql" else _sqlite_statements():
        op.execute(statement)


def downgrade() -> None:
    for statement in _drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('transcript_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_signatures_user_status')
        batch_op.drop_index(batch_op.f('ix_transcript_signatures_transcript_id'))

    op.drop_table('transcript_signatures')
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_items_transcript_id'))
        batch_op.drop_index(batch_op.f('ix_job_items_job_id'))

    op.drop_table('job_items')
    with op.batch_alter_table('transcripts', schema=None) as batch_op:
        batch_op.drop_index('ix_transcripts_year_status')
        batch_op.drop_index(batch_op.f('ix_transcripts_student_id'))
        batch_op.drop_index(batch_op.f('ix_transcripts_class_id'))

    op.drop_table('transcripts')
    # ### end Alembic commands ###
