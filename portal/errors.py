"""Error pages and fragments in Vietnamese, and the mapping of domain exceptions to HTTP statuses."""

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.web import is_fragment_request

MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Dữ liệu gửi lên không hợp lệ. Vui lòng kiểm tra và thử lại."),
    403: ("Không có quyền truy cập", "Bạn không có quyền xem hoặc thay đổi nội dung này."),
    404: ("Không tìm thấy", "Trang hoặc dữ liệu bạn tìm không tồn tại."),
    405: ("Không hỗ trợ", "Thao tác này không được hỗ trợ tại địa chỉ này."),
    409: ("Xung đột dữ liệu", "Dữ liệu đã bị người khác thay đổi. Vui lòng tải lại trang."),
    413: ("Tệp quá lớn", "Tệp hoặc dữ liệu gửi lên vượt quá dung lượng cho phép."),
    429: ("Quá nhiều yêu cầu", "Bạn đã thử quá nhiều lần. Vui lòng đợi vài phút rồi thử lại."),
    500: ("Lỗi hệ thống", "Đã có lỗi xảy ra. Dữ liệu đã lưu trước đó không bị ảnh hưởng. Vui lòng thử lại."),
}


class DomainError(Exception):
    """A refusal by a service; the message is shown to the user as it is."""

    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


def error_response(status: int, detail: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[500])
    template = "errors/_error.html" if is_fragment_request() else "errors/error.html"
    return render_template(template, status=status, title=title, detail=detail or default), status


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_exc):
        return error_response(
            400, "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang rồi thử lại."
        )

    @app.errorhandler(DomainError)
    def _domain(exc):
        if isinstance(exc, Forbidden):
            from portal.authz import record_denial

            record_denial(str(exc))
        return error_response(exc.status, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc):
        return error_response(exc.code or 500)

    if app.testing:
        return  # let tests see the traceback

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("unhandled error")
        return error_response(500)
