// Vietnamese by default, English on request; times in Asia/Ho_Chi_Minh (stored in UTC).
const STRINGS = {
  vi: {
    "nav.alerts": "Cảnh báo", "nav.search": "Tìm kiếm", "nav.dashboard": "Tổng quan", "nav.rules": "Luật",
    "nav.sources": "Nguồn log", "nav.users": "Người dùng", "nav.audit": "Nhật ký",
    "login.title": "Đăng nhập", "login.user": "Tên đăng nhập", "login.password": "Mật khẩu", "login.submit": "Đăng nhập",
    "login.bad": "Sai tên đăng nhập hoặc mật khẩu.", "login.limited": "Quá nhiều lần thử. Thử lại sau {s} giây.",
    "login.tagline": "Trung tâm Giám sát an toàn thông tin", "logout": "Đăng xuất",
    "live.on": "Trực tiếp", "live.off": "Mất kết nối",
    "status.new": "Mới", "status.acknowledged": "Đã tiếp nhận", "status.in_progress": "Đang xử lý", "status.closed": "Đã đóng", "status.all": "Tất cả",
    "sev.critical": "Nghiêm trọng", "sev.high": "Cao", "sev.medium": "Trung bình", "sev.low": "Thấp", "sev.informational": "Thông tin",
    "res.true_positive": "Đúng (tấn công thật)", "res.false_positive": "Cảnh báo sai", "res.benign": "Lành tính",
    "col.severity": "Mức độ", "col.rule": "Luật", "col.host": "Máy", "col.user": "Người dùng", "col.agency": "Đơn vị",
    "col.count": "Số lần", "col.last_seen": "Lần cuối", "col.status": "Trạng thái", "col.assignee": "Người xử lý",
    "col.time": "Thời gian", "col.message": "Nội dung", "col.source": "Nguồn", "col.role": "Vai trò", "col.actor": "Người thực hiện",
    "col.action": "Hành động", "col.target": "Đối tượng", "col.level": "Mức", "col.author": "Tác giả", "col.title": "Tên",
    "alerts.title": "Hàng đợi cảnh báo", "alerts.empty": "Không có cảnh báo nào.", "alerts.more": "Tải thêm",
    "alerts.allsev": "Mọi mức độ", "alerts.host": "Lọc theo máy…", "alerts.total": "{n} cảnh báo",
    "alerts.newcount": "{n} cập nhật mới",
    "act.ack": "Tiếp nhận", "act.start": "Bắt đầu xử lý", "act.close": "Đóng", "act.reopen": "Mở lại",
    "act.assign_me": "Nhận xử lý", "act.comment": "Thêm ghi chú", "act.cancel": "Huỷ", "act.save": "Lưu",
    "act.create": "Tạo", "act.disable": "Khoá", "act.enable": "Mở khoá", "act.search": "Tìm",
    "close.title": "Đóng cảnh báo", "close.resolution": "Kết luận", "close.comment": "Ghi chú (tuỳ chọn)",
    "keys.title": "Phím tắt", "keys.move": "di chuyển", "keys.open": "mở", "keys.ack": "tiếp nhận", "keys.start": "xử lý",
    "keys.close": "đóng", "keys.select": "chọn", "keys.search": "tìm kiếm", "keys.help": "trợ giúp", "keys.back": "quay lại",
    "bulk.selected": "Đã chọn {n}",
    "alert.rule": "Luật phát hiện", "alert.details": "Chi tiết", "alert.events": "Sự kiện khớp", "alert.history": "Lịch sử",
    "alert.comments": "Ghi chú", "alert.nocomments": "Chưa có ghi chú.", "alert.first_seen": "Lần đầu",
    "alert.last_seen": "Lần cuối", "alert.source_ip": "IP nguồn", "alert.agencies": "Các cơ quan liên quan", "alert.resolution": "Kết luận", "alert.references": "Tham khảo",
    "alert.tags": "Thẻ", "alert.description": "Mô tả", "alert.id": "Mã", "alert.noevents": "Không tìm thấy sự kiện (có thể đã hết hạn lưu).",
    "hist.created": "tạo cảnh báo", "hist.status": "đổi trạng thái", "hist.assign": "giao xử lý", "hist.comment": "thêm ghi chú",
    "search.title": "Tìm kiếm", "search.placeholder": "Cú pháp Lucene, vd: host.name:web01 AND message:failed",
    "search.events": "Sự kiện", "search.alerts": "Cảnh báo", "search.hits": "{n} kết quả", "search.top": "Giá trị phổ biến",
    "range.15m": "15 phút", "range.1h": "1 giờ", "range.24h": "24 giờ", "range.7d": "7 ngày", "range.30d": "30 ngày",
    "dash.title": "Tổng quan", "dash.by_severity": "Cảnh báo theo mức độ", "dash.top_rules": "Luật kích hoạt nhiều nhất",
    "dash.top_hosts": "Máy có nhiều cảnh báo nhất", "dash.ingestion": "Sự kiện tiếp nhận theo nguồn", "dash.nodata": "Chưa có dữ liệu.",
    "users.title": "Người dùng", "users.new": "Tạo người dùng", "users.disabled": "Đã khoá", "users.active": "Hoạt động",
    "rules.title": "Luật phát hiện", "rules.rejected": "Luật bị từ chối", "sources.title": "Nguồn log",
    "sources.last": "Sự kiện cuối", "sources.rate": "Sự kiện/giây", "sources.silent": "Im lặng", "sources.ok": "Bình thường",
    "audit.title": "Nhật ký kiểm toán", "tz": "Giờ Việt Nam (GMT+7)", "error": "Lỗi", "saved": "Đã lưu",
    "role.admin": "Quản trị", "role.analyst": "Phân tích viên", "role.viewer": "Người xem", "role.agency_viewer": "Xem theo đơn vị",
    "nav.exceptions": "Ngoại lệ", "act.delete": "Xoá",
    "exc.title": "Ngoại lệ của luật", "exc.new": "Tạo ngoại lệ", "exc.from_alert": "Tạo ngoại lệ",
    "exc.help": "Luật sẽ không cảnh báo với sự kiện thoả TẤT CẢ điều kiện (không phân biệt hoa thường). Mỗi lần bỏ qua đều được đếm.",
    "exc.field": "Trường", "exc.op": "Phép so sánh", "exc.value": "Giá trị", "exc.remove": "Bỏ điều kiện",
    "exc.op.equals": "bằng", "exc.op.contains": "chứa", "exc.op.startswith": "bắt đầu bằng", "exc.op.endswith": "kết thúc bằng",
    "exc.op.in": "thuộc (phân cách bằng dấu phẩy)", "exc.op.cidr": "thuộc dải mạng",
    "exc.add_condition": "Thêm điều kiện", "exc.reason": "Lý do", "exc.reason_hint": "Vì sao đây không phải tấn công?",
    "exc.expires": "Hết hạn", "exc.expires_hint": "(để trống: không hết hạn)", "exc.never": "Không hết hạn",
    "exc.active": "Đang áp dụng", "exc.expired": "Đã hết hạn", "exc.conditions": "Điều kiện", "exc.empty": "Chưa có ngoại lệ nào.",
    "exc.confirm_delete": "Xoá ngoại lệ này? Luật sẽ cảnh báo lại với các sự kiện này.",
    "rules.upload": "Tải lên luật Sigma", "rules.uploaded": "Đã tải lên",
    "rules.upload_help": "Một luật Sigma (YAML) có id. Luật được kiểm tra bằng pySigma; bộ phát hiện áp dụng trong vài giây.",
    "rules.backtest": "Chạy thử", "rules.backtest_hits": "{n} sự kiện khớp trong {h} giờ qua", "rules.timed_out": "quá thời gian, kết quả chưa đủ",
    "rules.src.bundled": "Có sẵn", "rules.src.file": "Tệp", "rules.src.uploaded": "Tải lên",
    "rules.on": "Đang bật", "rules.off": "Đã tắt", "rules.source": "Nguồn", "rules.hits": "Cảnh báo", "rules.state": "Trạng thái",
    "rules.confirm_delete": "Xoá luật đã tải lên này?",
    "sources.new": "Khai báo nguồn log", "sources.format": "Định dạng", "sources.addresses": "Địa chỉ được phép",
    "sources.transports": "Giao thức", "sources.level": "Cấp độ", "sources.interval": "Chu kỳ dự kiến (giây)", "sources.tz": "Múi giờ",
    "sources.key_title": "Khoá tiếp nhận của {id}", "sources.key_once": "Khoá chỉ hiển thị MỘT lần. Hãy sao chép ngay; hệ thống chỉ lưu mã băm.",
    "sources.rotate": "Đổi khoá", "sources.confirm_rotate": "Đổi khoá tiếp nhận? Khoá cũ sẽ ngừng hoạt động.", "sources.from_api": "khai báo qua giao diện",
    "error.forbidden": "Bạn không có quyền xem trang này.", "error.back": "Về hàng đợi cảnh báo",
    "bulk.skipped_closed": "Không tiếp nhận lại {n} cảnh báo đã đóng: mở lại cảnh báo từ trang của nó.",
    "bulk.skipped": "Bỏ qua {n} cảnh báo không còn ở trạng thái Mới.",
    "bulk.working": "Đang cập nhật {done}/{n} cảnh báo…", "bulk.done": "{action}: {ok}/{n} cảnh báo.",
    "bulk.failed": "{n} cảnh báo không đổi được:", "bulk.select_all": "Chọn tất cả",
    "alert.ids_capped": "Cảnh báo chỉ giữ mã của {kept} sự kiện đầu tiên; {n} sự kiện sau không được lưu trong cảnh báo (tìm chúng trong Tìm kiếm theo máy và thời gian).",
    "alert.events_missing": "{n} sự kiện không còn tìm thấy (có thể đã hết hạn lưu).",
    "users.confirm_role": "Đổi vai trò của {user} từ {from} thành {to}? Quyền mới có hiệu lực ngay.",
    "exc.rule_hint": "Chọn theo tên luật hoặc dán mã luật", "exc.unknown_rule": "(luật không còn được nạp)",
    "exc.expires_tz": "(giờ Việt Nam, GMT+7; để trống: không hết hạn)",
    "pivot.hint": "Bấm để lọc, tìm kiếm hoặc mở trang của giá trị này", "pivot.queue": "Lọc hàng đợi theo giá trị này",
    "pivot.search_events": "Tìm sự kiện", "pivot.search_alerts": "Tìm cảnh báo",
    "pivot.page.host": "Mở trang máy", "pivot.page.user": "Mở trang người dùng", "pivot.page.ip": "Mở trang địa chỉ IP",
    "pivot.kind.host": "Máy", "pivot.kind.user": "Người dùng", "pivot.kind.ip": "Địa chỉ IP", "pivot.kind.rule": "Luật", "pivot.kind.agency": "Đơn vị",
    "entity.events": "Sự kiện {d} ngày qua", "entity.alerts": "Cảnh báo", "entity.agencies": "Đơn vị", "entity.sources": "Nguồn log",
    "entity.datasets": "Loại dữ liệu", "entity.fields": "Trường tìm", "entity.by_source": "Sự kiện theo nguồn",
    "filter.host": "Máy", "filter.user": "Người dùng", "filter.rule_id": "Luật", "filter.agency": "Đơn vị", "filter.clear": "Bỏ lọc",
  },
  en: {
    "nav.alerts": "Alerts", "nav.search": "Search", "nav.dashboard": "Dashboard", "nav.rules": "Rules",
    "nav.sources": "Sources", "nav.users": "Users", "nav.audit": "Audit",
    "login.title": "Sign in", "login.user": "User name", "login.password": "Password", "login.submit": "Sign in",
    "login.bad": "Wrong user name or password.", "login.limited": "Too many attempts. Try again in {s} seconds.",
    "login.tagline": "Security Operations Centre", "logout": "Sign out",
    "live.on": "Live", "live.off": "Disconnected",
    "status.new": "New", "status.acknowledged": "Acknowledged", "status.in_progress": "In progress", "status.closed": "Closed", "status.all": "All",
    "sev.critical": "Critical", "sev.high": "High", "sev.medium": "Medium", "sev.low": "Low", "sev.informational": "Info",
    "res.true_positive": "True positive", "res.false_positive": "False positive", "res.benign": "Benign",
    "col.severity": "Severity", "col.rule": "Rule", "col.host": "Host", "col.user": "User", "col.agency": "Agency",
    "col.count": "Count", "col.last_seen": "Last seen", "col.status": "Status", "col.assignee": "Assignee",
    "col.time": "Time", "col.message": "Message", "col.source": "Source", "col.role": "Role", "col.actor": "Actor",
    "col.action": "Action", "col.target": "Target", "col.level": "Level", "col.author": "Author", "col.title": "Title",
    "alerts.title": "Alert queue", "alerts.empty": "No alerts.", "alerts.more": "Load more",
    "alerts.allsev": "All severities", "alerts.host": "Filter by host…", "alerts.total": "{n} alerts",
    "alerts.newcount": "{n} new updates",
    "act.ack": "Acknowledge", "act.start": "Start work", "act.close": "Close", "act.reopen": "Reopen",
    "act.assign_me": "Assign to me", "act.comment": "Add comment", "act.cancel": "Cancel", "act.save": "Save",
    "act.create": "Create", "act.disable": "Disable", "act.enable": "Enable", "act.search": "Search",
    "close.title": "Close alert", "close.resolution": "Resolution", "close.comment": "Comment (optional)",
    "keys.title": "Keyboard shortcuts", "keys.move": "move", "keys.open": "open", "keys.ack": "acknowledge", "keys.start": "start work",
    "keys.close": "close", "keys.select": "select", "keys.search": "search", "keys.help": "help", "keys.back": "back",
    "bulk.selected": "{n} selected",
    "alert.rule": "Detection rule", "alert.details": "Details", "alert.events": "Matched events", "alert.history": "History",
    "alert.comments": "Comments", "alert.nocomments": "No comments yet.", "alert.first_seen": "First seen",
    "alert.last_seen": "Last seen", "alert.source_ip": "Source IP", "alert.agencies": "Agencies involved", "alert.resolution": "Resolution", "alert.references": "References",
    "alert.tags": "Tags", "alert.description": "Description", "alert.id": "ID", "alert.noevents": "Events not found (retention may have expired).",
    "hist.created": "created", "hist.status": "changed status", "hist.assign": "assigned", "hist.comment": "commented",
    "search.title": "Search", "search.placeholder": "Lucene syntax, e.g. host.name:web01 AND message:failed",
    "search.events": "Events", "search.alerts": "Alerts", "search.hits": "{n} hits", "search.top": "Top values",
    "range.15m": "15 minutes", "range.1h": "1 hour", "range.24h": "24 hours", "range.7d": "7 days", "range.30d": "30 days",
    "dash.title": "Dashboard", "dash.by_severity": "Alerts by severity", "dash.top_rules": "Top rules",
    "dash.top_hosts": "Top hosts", "dash.ingestion": "Events ingested per source", "dash.nodata": "No data yet.",
    "users.title": "Users", "users.new": "New user", "users.disabled": "Disabled", "users.active": "Active",
    "rules.title": "Detection rules", "rules.rejected": "Rejected rules", "sources.title": "Log sources",
    "sources.last": "Last event", "sources.rate": "Events/s", "sources.silent": "Silent", "sources.ok": "OK",
    "audit.title": "Audit log", "tz": "Vietnam time (GMT+7)", "error": "Error", "saved": "Saved",
    "role.admin": "Admin", "role.analyst": "Analyst", "role.viewer": "Viewer", "role.agency_viewer": "Agency viewer",
    "nav.exceptions": "Exceptions", "act.delete": "Delete",
    "exc.title": "Rule exceptions", "exc.new": "New exception", "exc.from_alert": "Create exception",
    "exc.help": "The rule will not alert on events meeting ALL conditions (case-insensitive). Every suppressed match is counted.",
    "exc.field": "Field", "exc.op": "Operator", "exc.value": "Value", "exc.remove": "Remove condition",
    "exc.op.equals": "equals", "exc.op.contains": "contains", "exc.op.startswith": "starts with", "exc.op.endswith": "ends with",
    "exc.op.in": "is one of (comma-separated)", "exc.op.cidr": "in network",
    "exc.add_condition": "Add condition", "exc.reason": "Reason", "exc.reason_hint": "Why is this not an attack?",
    "exc.expires": "Expires", "exc.expires_hint": "(empty: never)", "exc.never": "Never",
    "exc.active": "Active", "exc.expired": "Expired", "exc.conditions": "Conditions", "exc.empty": "No exceptions yet.",
    "exc.confirm_delete": "Delete this exception? The rule will alert on these events again.",
    "rules.upload": "Upload Sigma rule", "rules.uploaded": "Uploaded",
    "rules.upload_help": "One Sigma rule (YAML) with an id. It is checked with pySigma; the detector applies it within seconds.",
    "rules.backtest": "Backtest", "rules.backtest_hits": "{n} matching events in the last {h} hours", "rules.timed_out": "timed out, partial result",
    "rules.src.bundled": "Bundled", "rules.src.file": "File", "rules.src.uploaded": "Uploaded",
    "rules.on": "Enabled", "rules.off": "Disabled", "rules.source": "Source", "rules.hits": "Alerts", "rules.state": "State",
    "rules.confirm_delete": "Delete this uploaded rule?",
    "sources.new": "Declare a log source", "sources.format": "Format", "sources.addresses": "Allowed addresses",
    "sources.transports": "Transports", "sources.level": "Security level", "sources.interval": "Expected interval (s)", "sources.tz": "Time zone",
    "sources.key_title": "Ingest key of {id}", "sources.key_once": "The key is shown ONCE. Copy it now; only its hash is stored.",
    "sources.rotate": "Rotate key", "sources.confirm_rotate": "Rotate the ingest key? The old key stops working.", "sources.from_api": "declared in the console",
    "error.forbidden": "You are not allowed to see this page.", "error.back": "Back to the alert queue",
    "bulk.skipped_closed": "{n} closed alerts not re-acknowledged: reopen an alert from its page.",
    "bulk.skipped": "{n} alerts skipped: no longer new.",
    "bulk.working": "Updating {done}/{n} alerts…", "bulk.done": "{action}: {ok}/{n} alerts.",
    "bulk.failed": "{n} alerts could not be changed:", "bulk.select_all": "Select all",
    "alert.ids_capped": "The alert keeps the ids of its first {kept} events; the {n} later events are not stored in the alert (find them in Search by host and time).",
    "alert.events_missing": "{n} events are no longer found (retention may have expired).",
    "users.confirm_role": "Change the role of {user} from {from} to {to}? The new rights apply at once.",
    "exc.rule_hint": "Pick by rule title or paste a rule id", "exc.unknown_rule": "(rule no longer loaded)",
    "exc.expires_tz": "(Vietnam time, GMT+7; empty: never)",
    "pivot.hint": "Click to filter, search or open this value's page", "pivot.queue": "Filter the queue by this value",
    "pivot.search_events": "Search events", "pivot.search_alerts": "Search alerts",
    "pivot.page.host": "Open host page", "pivot.page.user": "Open user page", "pivot.page.ip": "Open IP address page",
    "pivot.kind.host": "Host", "pivot.kind.user": "User", "pivot.kind.ip": "IP address", "pivot.kind.rule": "Rule", "pivot.kind.agency": "Agency",
    "entity.events": "Events, last {d} days", "entity.alerts": "Alerts", "entity.agencies": "Agencies", "entity.sources": "Log sources",
    "entity.datasets": "Datasets", "entity.fields": "Fields searched", "entity.by_source": "Events per source",
    "filter.host": "Host", "filter.user": "User", "filter.rule_id": "Rule", "filter.agency": "Agency", "filter.clear": "Clear filter",
  },
};

export const TIME_ZONE = "Asia/Ho_Chi_Minh";
let lang = localStorage.getItem("canhgac.lang") === "en" ? "en" : "vi";

export function getLang() { return lang; }
export function setLang(value) {
  lang = value === "en" ? "en" : "vi";
  localStorage.setItem("canhgac.lang", lang);
  document.documentElement.lang = lang;
}

export function t(key, vars = {}) {
  let text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, String(v));
  return text;
}

const formatters = {};
function formatter(kind) {
  const key = `${lang}:${kind}`;
  if (!formatters[key]) {
    const opts = kind === "short"
      ? { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", hour12: false }
      : { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
          second: "2-digit", hour12: false };
    formatters[key] = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", opts);
  }
  return formatters[key];
}

export function fmtTime(value, kind = "long") {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : formatter(kind).format(d);
}

export function fmtNum(n) { return new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-US").format(n ?? 0); }

// The API answers in English; the Vietnamese console shows its refusals in Vietnamese. Each entry
// is one message the API gives (api/, core/index.py), with its variable parts captured; a message
// not listed here is shown as the server wrote it.
const SERVER_VI = [
  [/^leading wildcards \(\*abc, \?abc\) are refused/, () => "Không cho phép ký tự đại diện ở đầu từ (*abc, ?abc): truy vấn sẽ quét mọi giá trị. Hãy đặt chữ cố định lên trước, hoặc tìm theo tiền tố trên trường `.ci`."],
  [/^query too long: at most (\d+) characters/, (m) => `Truy vấn quá dài: tối đa ${m[1]} ký tự.`],
  [/^too many regular expressions: at most (\d+)/, (m) => `Quá nhiều biểu thức chính quy: tối đa ${m[1]}.`],
  [/^regular expression too long: at most (\d+) characters/, (m) => `Biểu thức chính quy quá dài: tối đa ${m[1]} ký tự.`],
  [/^regular expression \/(.*)\/ does not start with a literal character/, (m) => `Biểu thức chính quy /${m[1]}/ không bắt đầu bằng ký tự cố định: truy vấn sẽ quét mọi giá trị.`],
  [/^too many wildcard terms: at most (\d+)/, (m) => `Quá nhiều từ có ký tự đại diện: tối đa ${m[1]}.`],
  [/^unterminated regular expression/, () => "Biểu thức chính quy thiếu dấu `/` đóng."],
  [/^too many buckets: (\d+) > (\d+)/, (m) => `Quá nhiều cột biểu đồ: ${m[1]} > ${m[2]}; hãy chọn khoảng rộng hơn.`],
  [/^start is after end|^end must be after start/, () => "Thời điểm bắt đầu sau thời điểm kết thúc."],
  [/^size too large: at most (\d+)/, (m) => `Số lượng quá lớn: tối đa ${m[1]}.`],
  [/^field name may hold/, () => "Tên trường chỉ gồm chữ, số và _ @ . -"],
  [/^alert (.+) not found$/, (m) => `Không tìm thấy cảnh báo ${m[1]}.`],
  [/^alert is already (\w+)$/, (m) => `cảnh báo đã ở trạng thái ${t(`status.${m[1]}`)}`],
  [/^an alert cannot go from (\w+) to (\w+)$/, (m) => `cảnh báo không thể chuyển từ ${t(`status.${m[1]}`)} sang ${t(`status.${m[2]}`)}`],
  [/^the alert kept changing while being updated/, () => "cảnh báo liên tục thay đổi trong khi cập nhật; hãy thử lại"],
  [/^closing (?:an alert |alerts )?needs a resolution/, () => "Đóng cảnh báo cần chọn kết luận."],
  [/^no such user: (.+)$/, (m) => `Không có người dùng ${m[1]}.`],
  [/^(.+) cannot triage alerts/, (m) => `${m[1]} không có quyền xử lý cảnh báo.`],
  [/^no such rule: (\S+)/, (m) => `Không có luật ${m[1]}: bộ phát hiện không nạp luật này và chưa có cảnh báo nào của nó.`],
  [/^no rule (\S+)$/, (m) => `Không có luật ${m[1]}.`],
  [/^user (.+) not found$/, (m) => `Không tìm thấy người dùng ${m[1]}.`],
  [/^you cannot disable yourself or drop your own admin role/, () => "Bạn không thể tự khoá mình hoặc bỏ quyền quản trị của chính mình."],
  [/^an agency_viewer needs an agency/, () => "Vai trò Xem theo đơn vị cần có đơn vị."],
  [/^passwords have at least (\d+) characters/, (m) => `Mật khẩu cần ít nhất ${m[1]} ký tự.`],
  [/^password is too easy to guess/, () => "Mật khẩu quá dễ đoán. Hãy ghép vài từ ít gặp với nhau."],
  [/^role (\S+) may not do this/, () => "Vai trò của bạn không được phép làm việc này."],
  [/^CSRF token missing or wrong/, () => "Phiên làm việc không hợp lệ; hãy tải lại trang."],
  [/^(login required|session expired or unknown)/, () => "Phiên đăng nhập đã hết hạn; hãy đăng nhập lại."],
  [/^OpenSearch is unreachable/, () => "Không kết nối được OpenSearch; thử lại sau giây lát."],
  [/^OpenSearch (error|refused the request)/, () => "OpenSearch báo lỗi; thử lại sau giây lát."],
  [/^source (\S+) is declared in the settings file/, (m) => `Nguồn ${m[1]} được khai báo trong tệp cấu hình: hãy sửa ở đó.`],
  [/^the rule does not compile/, () => "Luật không biên dịch được."],
];

export function serverText(message) {
  if (lang !== "vi" || typeof message !== "string") return message;
  for (const [re, text] of SERVER_VI) {
    const m = message.match(re);
    if (m) return text(m);
  }
  return message;
}
