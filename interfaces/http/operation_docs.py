"""What /docs says of each operation beyond its summary: who may call it, what it does, what
it answers. Kept in one table, keyed as API.md names operations ("METHOD path"), so the
handlers stay thin; a test fails for an operation missing here."""

from __future__ import annotations

from typing import Any

_COMMAND = "成功时返回 201 及聚合的 id、新版本号 version 和最后一条事件的日志位置 position；被拒绝的命令不存储任何内容。"
_READ_ISSUE = "督查督办、检查人员，以及牵头、协办该问题、负责其某项措施或就该问题被催办过的单位可读；其他单位得到与不存在时相同的 404。"
_READ_CASE = "督查督办、检查人员、登记单位和被转介单位可读；其他单位得到与不存在时相同的 404。"
_AS_OF = "as_of（ISO 8601 时间或日期）给出该时点账本所记录的样子。"
_VIEW = "as_of 给出某一时点的视图；min_position 等待视图处理到该日志位置（读己之写）。机构用户只看到本单位的行。"
_XLSX = "与同名 JSON 视图逐格一致的 Excel 文件：中文表头、冻结首行、A4 横向打印。"

DESCRIPTIONS: dict[str, str] = {
    "GET /healthz": "进程是否存活；不访问数据库，无需令牌。",
    "GET /readyz": "数据库可达且视图落后日志不超过设定的事件数时返回 200，否则 503；无需令牌。",
    # ---- access: users, tokens ----
    "GET /api/v1/me": "当前调用者：用户 id、名称、单位、角色和所用令牌的 id。",
    "GET /api/v1/users": "管理员列出全部用户：名称、单位、角色、是否停用、创建时间；从不返回密码或令牌。",
    "POST /api/v1/users": "管理员创建用户（name、unit、role），并签发第一个令牌；令牌只在这次应答中出现一次。",
    "POST /api/v1/users/{user_id}/deactivation": "管理员停用用户：其全部令牌在下一次请求即得到 401，仪表盘会话立即结束。每次变更都是用户聚合的一条事件。" ,
    "POST /api/v1/users/{user_id}/activation": "管理员恢复停用的用户；其未过期、未吊销的令牌重新可用。",
    "POST /api/v1/users/{user_id}/changes": (
        "管理员变更用户的角色 role 和/或所属单位 unit（已登记单位的代码）：立即生效，该用户的令牌和会话此后以新的"
        "角色和单位办理；与原值相同的部分不记录。If-Match 给出用户的当前版本时，期间被他人变更则 412。" + _COMMAND),
    "GET /api/v1/tokens": "管理员列出令牌（可按 user 筛选）：id、所属用户、签发时间、到期时间、最近使用时间；从不返回令牌本身。",
    "POST /api/v1/users/{user_id}/tokens": "管理员为用户签发新令牌（默认 90 天到期）；令牌只在这次应答中出现一次。",
    "DELETE /api/v1/tokens/{token_id}": "管理员或令牌所有者吊销令牌：返回 204，该令牌下一次请求即得到 401；他人的令牌得到 404。",
    "GET /metrics": "Prometheus 文本格式的指标；只回答本机和内网地址，无需令牌。",
    # ---- plans and issues ----
    "POST /api/v1/plans": "督查督办登记实施方案：文号 number、标题 title、发文单位 issuer_unit、年度 year。同一文号只能登记一次。" + _COMMAND,
    "GET /api/v1/plans/{plan_id}": "按 id 查看实施方案的文号、标题、发文单位和年度。",
    "POST /api/v1/plans/{plan_id}/problem-list": (
        "督查督办上传问题清单（multipart 字段 file，.xlsx 或 .csv）。逐行读取序号、责任单位、工作职责、存在问题、"
        "整改措施和备注，清除单元格中的标记和重复标点，把单位名称解析为已登记单位（“各X”指单位组 X 的全部单位）。"
        "dry_run=true 只报告将创建、警告和拒绝的行；同一清单重复导入不会重复创建。"
    ),
    "GET /api/v1/plans/{plan_id}/problem-list.xlsx": "把实施方案的整改问题按原问题清单的格式导出，附当前状态、牵头单位、整改期限和措施完成数。",
    "POST /api/v1/issues": (
        "督查督办登记一个整改问题：plan_id、序号 seq、工作职责 duty、存在问题 problem、责任单位代码 units"
        "（单位组代码代表组内全部单位；列在首位的单位在交办前即为牵头单位）、整改措施 measures 和备注 remarks。" + _COMMAND
    ),
    "GET /api/v1/issues": (
        "列出调用者可读的整改问题（机构用户只看到本单位牵头、协办、负责其措施或被催办过的）。可按 unit（单位或单位组代码）、"
        "status 和 plan 筛选；未知的筛选值返回 422，并在 known_values 中列出已知的值。"
    ),
    "GET /api/v1/issues/{issue_id}": "整改问题的当前状态：责任单位、牵头单位、整改期限、措施及其进展、催办、延期、考核和更正。" + _AS_OF + _READ_ISSUE,
    "GET /api/v1/issues/{issue_id}/events": "该问题的全部事件：类型、版本、日志位置、登记时间、声称发生时间、登记人及其单位，以及事件本身的字段。" + _READ_ISSUE,
    "POST /api/v1/issues/{issue_id}/assignment": "督查督办交办：牵头单位 lead_unit、协办单位 co_units、专人 contact_person、整改期限 deadline 和时间节点 nodes。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/measures": "责任单位制定一项整改措施（unit、text、due），返回 measure_id。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/measures/{measure_id}/progress": "措施的责任单位报送阶段性进展 summary，可附佐证材料（已上传文件的 sha256 和名称）。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/measures/{measure_id}/completion": "措施的责任单位报告措施办结 summary，可附佐证材料（已上传文件的 sha256 和名称）。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/urgings": "督查督办向一个责任单位催办，并给出回复期限 reply_by；返回 urging_id。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/urgings/{urging_id}/reply": (
        "被催办单位回复催办 message；urging_id 是催办时返回的编号（即该催办事件的版本号）。回复日期（北京时间，按 occurred_at）"
        "晚于回复期限 reply_by 的记为逾期回复，应答中 late 为 true。每次催办只能回复一次，只有被催办单位可以回复。" + _COMMAND
    ),
    "POST /api/v1/issues/{issue_id}/extension-requests": (
        "责任单位申请把整改期限延至 deadline，须写明理由 reason；返回 request_id。问题须已有整改期限，新期限须晚于当前期限，"
        "同一单位有待审批的申请时不能再申请。" + _COMMAND
    ),
    "POST /api/v1/issues/{issue_id}/extension-requests/{request_id}/decision": (
        "督查督办审批延期申请：approved 为是否批准，须写明理由 reason。批准即把整改期限延至所申请的日期（同时记一条延期记录，"
        "督查督办台账的期限随之改变）；已审批的申请不能再审批。" + _COMMAND
    ),
    "POST /api/v1/issues/{issue_id}/deadline-extensions": "督查督办把已交办问题的整改期限延后，须写明理由。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/evaluations": "督查督办作年终考核：年度 year、等次 grade（优秀、良好、合格或不合格）、分数 score（0–100）和考核意见 findings。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/closure": "督查督办核实整改到位后销号；有未办结措施时不能销号。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/reopening": "督查督办重新打开已销号的问题，须写明理由。" + _COMMAND,
    "POST /api/v1/issues/{issue_id}/corrections": "记录人本人或督查督办更正一条较早的记录：被更正事件的日志位置 position、改动 changes 和理由 reason；原记录保留。" + _COMMAND,
    # ---- child cases ----
    "POST /api/v1/cases": (
        "督查督办或机构登记儿童个案：街道 street、社区 community、是否本地户籍 household_local、出生日期 birth_date，"
        "以及个人信息 person（姓名、身份证号等，按儿童单独加密）。返回个案编号 case_number。" + _COMMAND
    ),
    "GET /api/v1/cases/{case_id}": "儿童个案的当前状态。个人信息只返回给被转介单位、督查督办和检查人员，每次读取都记入查阅记录。" + _AS_OF + _READ_CASE,
    "GET /api/v1/cases/{case_id}/events": "该个案的全部事件，不显示个人信息。" + _READ_CASE,
    "GET /api/v1/cases/{case_id}/access-log": "谁在何时通过哪个接口读取了该个案的个人信息。" + _READ_CASE,
    "POST /api/v1/cases/{case_id}/classifications": "认定是否留守儿童 left_behind 及困境类别 categories，可附佐证。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/reassessments": "重新评估留守情况和困境类别。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/guardianship": "登记监护情况：监护安排 arrangement 及监护人、委托监护人或指定监护人。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/mandatory-reports": "登记强制报告：报告主体 reporter、性质 nature、发生时间 occurred_at；返回 report_id。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/mandatory-reports/{report_id}/acceptance": "记录强制报告的受理时间，并返回自报告起的响应时长。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/mandatory-reports/{report_id}/dispatch": "记录出警时间，并返回自报告起的响应时长。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/referrals": "把个案转介给一个单位 unit 承担某项职责 duty；被转介单位此后可读其个人信息。返回 referral_id。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/referrals/{referral_id}/acceptance": (
        "被转介单位接收转介（只有该单位、只能一次），返回自转介至接收的秒数 seconds_since_referral；个案的转介列表和信息台账"
        "随之显示已接收及接收时间。" + _COMMAND
    ),
    "POST /api/v1/cases/{case_id}/referrals/{referral_id}/closure": "结束一次转介：完成或撤回。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/services": "登记为儿童提供的关爱服务或救助（种类 kind，可关联转介 referral_id，可附该个案已上传材料的 sha256 列表 evidence）；关联转介时返回自转介起的时长。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/visits": "登记一次走访。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/evaluations": "个案的年终考核。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/closure": "结案，须给出原因 reason（年满 16 周岁、父母返回、迁出、困境消除等）。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/reopening": "重新打开已结案的个案，须写明理由。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/erasure": "销毁该儿童的密钥，使其个人信息不可再读；账本和防篡改证据保持完整。须写明理由。" + _COMMAND,
    "POST /api/v1/cases/{case_id}/corrections": "更正该个案的一条较早记录，须写明理由；原记录保留。" + _COMMAND,
    # ---- evidence files ----
    "POST /api/v1/evidence": (
        "机构和督查督办上传一份佐证材料（multipart 字段 file；只接受 PDF、JPG、PNG、DOCX、XLSX，按文件内容判断类型，"
        "不看扩展名；超过大小上限得到 413，其他类型得到 415）。文件按内容的 SHA-256 保存，应答 201 及 sha256、size、"
        "media_type 和 name；进展、办结、认定类别、重新评估和服务的 evidence 以 sha256 引用它，未上传的摘要得到 422。"
        "带 case_id 的是该儿童个案的材料：以该儿童的密钥加密保存，删除个人信息时一并销毁。"
    ),
    "GET /api/v1/evidence/{sha256}": (
        "下载佐证材料（Content-Disposition 带原文件名）：只有可读引用它的记录的人可以下载——整改问题的可读范围，"
        "儿童个案的材料另须有权查看个人信息，且每次下载记入查阅记录；其他人以及没有记录引用的文件得到 404。"
    ),
    # ---- views ----
    "GET /api/v1/views/supervision": "督查督办台账：每个问题的牵头单位、措施、最近进展、期限、逾期天数、催办次数、状态和红黄绿灯，以及临近到期的提醒。" + _VIEW,
    "GET /api/v1/views/supervision.xlsx": "督查督办台账。" + _XLSX,
    "GET /api/v1/views/supervision/units": "按单位汇总：未完成、逾期、按期完成、逾期完成和被催办的数量。" + _VIEW,
    "GET /api/v1/views/supervision/units.xlsx": "按单位汇总。" + _XLSX,
    "GET /api/v1/views/evaluation/{year}": "年终考核：各单位的客观指标（按期完成率、逾期、被催办、迟报、个案响应时长）与已记录的等次并列，等次与记录不符者标出。" + _VIEW,
    "GET /api/v1/views/evaluation/{year}.xlsx": "年终考核。" + _XLSX,
    "GET /api/v1/views/ledger": "信息台账：个案按街道、类别和状态汇总，转介与响应、服务和台账健康；不含任何个人信息。机构用户只看到本单位登记或被转介的个案；管理员不可读。" + _VIEW,
    "GET /api/v1/views/ledger.xlsx": "信息台账。" + _XLSX,
    # ---- the province ----
    "GET /api/v1/province/rollup": (
        "全省督查汇总：每个区县按单位类别（单位所属的单位组，如各司法所；不属于任何组的单位自成一类）列出未销号和逾期问题、"
        "未完成和逾期措施、按期和逾期完成的措施、被催办和待回复的催办、当年按期完成率，以及个案响应时长（强制报告受理、出警、"
        "转介后首次服务，单位：小时），并有区县合计和全省合计；districts 给出各区县已汇总到的日志位置和登记时间。"
        "as_of（日期或时间）给出该时点的汇总，year 选择按期完成率和响应时长的年度。只含计数和时长，没有任何个人信息。"
        "省级督查和省级（部署自己的模式）的督查督办、检查人员、管理员可读；区县用户得到 403；没有登记区县的部署 404。"
    ),
    # ---- audit ----
    "GET /api/v1/audit/events": (
        "全局事件日志，按日志位置排序，用 after 和 limit 分页；可按 unit、user、type、aggregate 和登记时间 from/to 筛选，"
        "未知的 unit、user 或 type 返回 422。每条带默克尔叶子序号和叶子哈希。督查督办、检查人员和管理员可读（管理员看不到叶子对象本身）。"
    ),
    "GET /api/v1/audit/late-entries": "声称发生时间比登记时间早出 days 天以上的记录（迟报或倒填）。督查督办、检查人员和管理员可读。",
    "GET /api/v1/audit/tree-head": "最新的签名树头：tree_size、root_hash、timestamp 和 Ed25519 签名 signature。",
    "GET /api/v1/audit/public-key": "签署树头的 Ed25519 公钥（PEM），供外部核验。",
    "GET /api/v1/audit/proofs/inclusion": "位置 position 的事件在大小为 tree_size 的树中的包含证明（RFC 9162 第 2.1 节）。督查督办、检查人员和管理员可读。",
    "GET /api/v1/audit/proofs/consistency": "大小为 first 的树是大小为 second 的树的前缀的一致性证明（RFC 9162）。督查督办、检查人员和管理员可读。",
}


# A province inspector's reading of one district's audit trail (PostgreSQL deployments of several districts).
DISTRICT_AUDIT = "/api/v1/districts/{district}/audit"


def describe(openapi: dict[str, Any]) -> dict[str, Any]:
    """Fills in each operation's description from the table (a handler's own wins)."""
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            said = DESCRIPTIONS.get(f"{method.upper()} {path}")
            if path.startswith(DISTRICT_AUDIT):
                own = DESCRIPTIONS.get(f"{method.upper()} /api/v1/audit{path.removeprefix(DISTRICT_AUDIT)}")
                said = own and ("省级督查（以省级令牌）查看区县 district 的同一内容，不含事件本身（leaf 为 null）；"
                                "区县用户得到 403，未登记的区县 404。原文：" + own)
            if said and not operation.get("description"):
                operation["description"] = said
    return openapi
