"""Command-line tools: `flask --app wsgi db upgrade`, `setup`, `seed-demo`, `demo-logins`, `audit verify`,
`transcripts export`, `delivery backfill`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

db_cli = AppGroup("db", help="Database schema (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Migrate the database to REVISION (default: head)."""
    from portal import migrate

    migrate.upgrade(current_app, revision)
    click.echo(f"Cơ sở dữ liệu đã ở phiên bản {revision}.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Do not autogenerate from the models.")
def db_revision(message, empty):
    """Write a new migration script from the difference between models and database."""
    from portal import migrate

    migrate.revision(current_app, message, autogenerate=not empty)


@db_cli.command("current")
def db_current():
    from portal import migrate

    migrate.current(current_app)


@click.command("seed-demo")
def seed_demo_command():
    """Create the demo school when the database holds no school yet."""
    from portal import seed

    created = seed.seed_demo_if_empty(current_app)
    click.echo("Đã tạo trường mẫu." if created else "Cơ sở dữ liệu đã có dữ liệu: không tạo trường mẫu.")


@click.command("setup")
def setup_command():
    """Migrate the database and seed the demo school if it is empty (idempotent)."""
    from portal import migrate, seed

    migrate.upgrade(current_app)
    if seed.seed_demo_if_empty(current_app):
        click.echo("Đã tạo trường mẫu.")
    if _provision_signers():
        _release_demo_transcripts()


def _release_demo_transcripts() -> None:
    """The demo school's last-year class gets its transcripts signed and released once (about 30 s)."""
    from portal.transcripts.demo import release_demo_class

    limit = int(current_app.config.get("DEMO_RELEASED_TRANSCRIPTS") or 0)
    count = release_demo_class(current_app, limit=limit, echo=click.echo) if limit > 0 else 0
    if count:
        click.echo(f"Đã lập, ký số và phát hành {count} học bạ năm học trước của lớp mẫu.")


def _provision_signers() -> bool:
    """Provision the signers' keys; False when SoftHSM2 is missing (nothing can be signed)."""
    import os

    from portal.db import write_session
    from portal.pki import service, tokens

    if not os.path.exists(tokens.SOFTHSM_MODULE):
        click.echo(f"Chưa có SoftHSM2 ({tokens.SOFTHSM_MODULE}): bỏ qua việc tạo khóa ký (apt-get install softhsm2).")
        return False
    with write_session() as session:
        done = service.provision(session, current_app.instance_path)
    if done.signers:
        click.echo(f"Đã tạo khóa và chứng thư số trên token cho {len(done.signers)} người ký"
                   f"{' (và CA thử nghiệm instance/pki/ca.pem)' if done.ca_created else ''}.")
    return True


pki_cli = AppGroup("pki", help="Tokens, keys and certificates of the signers.")


@pki_cli.command("init")
def pki_init():
    """Create the token, the demo CA and a key + certificate for every signer that has none (idempotent)."""
    _provision_signers()


@click.command("demo-logins")
def demo_logins_command():
    """Print the demo accounts, one per role."""
    from portal import seed

    click.echo(seed.format_demo_logins(current_app))


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def audit_verify():
    """Check the hash chain: exit 0 with the count and head hash, or exit 1 naming the first bad event."""
    from portal import audit
    from portal.db import engine_for

    verdict = audit.verify(engine_for(current_app))
    if verdict.ok:
        click.echo(f"Chuỗi nhật ký nguyên vẹn: {verdict.count} sự kiện; hash đầu chuỗi {verdict.head}")
        return
    where = f"sự kiện {verdict.bad_id}: " if verdict.bad_id else ""
    click.echo(f"CHUỖI NHẬT KÝ BỊ HỎNG tại {where}{verdict.problem} "
               f"({verdict.count} sự kiện đầu tiên hợp lệ)", err=True)
    raise SystemExit(1)


transcripts_cli = AppGroup("transcripts", help="Released transcripts (học bạ số).")


@transcripts_cli.command("export")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write <namhoc>/<tenlop>/<mahocsinh>_<name>_v<version>.pdf and manifest.csv into.")
def transcripts_export(out_dir):
    """Write every released transcript PDF and a manifest of their SHA-256 into OUT."""
    from portal.db import new_session, write_session
    from portal.transcripts import export

    with new_session(write=False) as session:
        done = export.export_released(session, out_dir=out_dir)
    with write_session() as session:
        export.record_export(session, done)
    click.echo(f"Đã xuất {len(done)} học bạ đã phát hành vào {out_dir} (kèm {export.MANIFEST}).")
    bad = [item.file for item in done if not item.intact]
    if bad:
        click.echo("CẢNH BÁO: mã băm của các tệp sau khác mã băm đã lưu khi phát hành: " + ", ".join(bad), err=True)
        raise SystemExit(1)


delivery_cli = AppGroup("delivery", help="Sending released transcripts to the Ministry's and Department's databases.")


@delivery_cli.command("backfill")
def delivery_backfill():
    """Add the submissions that configured endpoints missed (transcripts released or revoked before they were
    configured) and enqueue them; idempotent. The worker also does this when it starts and every few minutes."""
    from portal.delivery import service

    if not service.endpoints(current_app):
        click.echo("Chưa cấu hình nơi nhận (SEND_ENDPOINTS): không có gì để bổ sung.")
        return
    done = service.backfill(app=current_app)
    if done.postponed:
        click.echo(f"{done.postponed} học bạ chưa bổ sung được lúc này (đang có thao tác khác): chạy lại sau ít phút.",
                   err=True)
    if not done.created:
        if not done.postponed:
            click.echo("Không thiếu lượt gửi nào.")
        return
    per = ", ".join(f"{name}: {count}" for name, count in sorted(done.by_endpoint.items()))
    click.echo(f"Đã bổ sung {done.created} lượt gửi còn thiếu ({per}).")
    if service.kick(current_app, submission_ids=done.ids) is None:
        click.echo("Hàng đợi (Redis) chưa trả lời: máy xử lí nền sẽ gửi khi nó hoạt động lại.", err=True)


def init_app(app) -> None:
    app.cli.add_command(audit_cli)
    app.cli.add_command(delivery_cli)
    app.cli.add_command(transcripts_cli)
    app.cli.add_command(pki_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(setup_command)
    app.cli.add_command(demo_logins_command)
