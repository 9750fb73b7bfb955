"""One settings object, read once from ``TONGJIAO_*`` variables in ``main()`` and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGJIAO_", extra="ignore")

    # An external PostgreSQL server; when unset, an embedded cluster under ``var_dir`` is used.
    database_url: SecretStr | None = None
    var_dir: Path = Path("var")
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    # behind a connection pooler in transaction mode (docs/scaling.md §5): 0 makes asyncpg use
    # unnamed statements, which survive PgBouncer before 1.21 handing each transaction to
    # another server connection; and the screens' LISTEN needs a connection of its own that no
    # pooler shares (a direct or session-mode address; unset: the database URL)
    db_statement_cache_size: int = Field(default=100, ge=0)
    listen_database_url: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # the address citizens' acquirers call back, and that staff browsers open
    public_base_url: str = "http://127.0.0.1:8080"

    # AES-256-GCM key (base64 of 32 bytes) that encrypts payer names and ID numbers at rest
    pii_key: SecretStr | None = None
    pii_key_file: Path | None = None
    # HMAC-SHA256 key (base64 of 32 bytes) for finding orders by the payer's ID number; its own
    # key, so that the search index reveals nothing even to someone holding the encryption key
    pii_search_key: SecretStr | None = None
    pii_search_key_file: Path | None = None
    # Ed25519 key (PEM) that signs the verification QR code on receipts; made on first start
    receipt_key_file: Path | None = None
    # HMAC-SHA256 key (base64 of 32 bytes) that signs the mobile payment links on payment notices
    # (clearing.service.pay_links); default var/keys/pay-link-hmac.key, made on first start
    pay_link_key_file: Path | None = None
    # a TrueType CJK font to embed in receipt PDFs; unset: the first of the Debian fonts named in
    # clearing/api/receipt_font.py that is installed (ops/_bootstrap.sh installs one)
    receipt_font_file: Path | None = None
    # the audit chain's witness, outside the database (docs/security.md): the checkpoint signing
    # key (default var/keys/audit-checkpoint-ed25519.pem), the append-only witness file (default
    # var/audit/witness.jsonl) and a folder of retired checkpoint public keys (*.pub)
    audit_key_file: Path | None = None
    audit_witness_file: Path | None = None
    audit_retired_keys_dir: Path | None = None

    # WeChat Pay: the merchant key folder (see adapters.wechatpay.keys) and the gateway
    wechatpay_keys: Path | None = None
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    wechatpay_timeout_s: float = Field(default=5.0, gt=0)
    # demo only: the simulator's citizen page, linked from the window screen as "模拟扫码"
    wechatpay_sim_url: str | None = None
    # the 公众平台's web authorization (JSAPI on the citizen's phone): the authorize page and the
    # code-for-openid exchange
    wechatpay_open_url: str = "https://open.weixin.qq.com"
    wechatpay_sns_url: str = "https://api.weixin.qq.com"

    # Alipay 当面付, UnionPay QR and the bank's card terminals: each configured by its key folder
    alipay_keys: Path | None = None
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_sim_url: str | None = None
    unionpay_keys: Path | None = None
    unionpay_base_url: str = "https://gateway.95516.com"
    unionpay_sim_url: str | None = None
    pos_keys: Path | None = None
    pos_base_url: str = "https://pos.bank.example"
    pos_sim_url: str | None = None
    # the terminals at the windows of this office (e.g. T0000001,T0000002)
    pos_terminals: list[str] = Field(default_factory=list)
    channel_timeout_s: float = Field(default=5.0, gt=0)

    # the authorities: tax bureau, fiscal non-tax system, maintenance-fund office
    tax_keys: Path | None = None
    tax_base_url: str = "https://tax.example.gov.cn"
    tax_sim_url: str | None = None
    fiscal_keys: Path | None = None
    fiscal_base_url: str = "https://nontax.example.gov.cn"
    fiscal_sim_url: str | None = None
    fund_keys: Path | None = None
    fund_base_url: str = "https://fund.example.gov.cn"
    fund_sim_url: str | None = None
    authority_timeout_s: float = Field(default=5.0, gt=0)

    # SMS (Tencent Cloud SendSms) for payment notices: the account folder (adapters.sms.keys:
    # SecretId/SecretKey, SmsSdkAppId, the approved sign and templates); unset: no SMS is sent
    sms_keys: Path | None = None
    sms_base_url: str = "https://sms.tencentcloudapi.com"
    sms_sim_url: str | None = None
    sms_timeout_s: float = Field(default=5.0, gt=0)

    # settlement to the partner bank: our collection account there, the key that signs our files
    # (a PEM file, or 64 hex digits for SM2; never the database), where files are written, and how
    # they travel (the bank pulls them from our mutual-TLS endpoint, or we push to its inbox)
    settlement_bank: str = Field(default="SFBK", pattern=r"^[A-Z0-9]{2,10}$")
    # what staff read for that bank code on pages and reports (the code itself is for files)
    settlement_bank_name: str = "示范银行"
    settlement_account_no: str = "6217000010000000009"
    settlement_account_name: str = "示范市不动产登记中心"
    settlement_bank_code: str = Field(default="313100000013", pattern=r"^[0-9]{12}$")
    settlement_key_file: Path | None = None
    settlement_key_id: str = "tj-settle-1"
    settlement_sign_alg: str = Field(
        default="ed25519", pattern=r"^(ed25519|rsa-pss-sha256|sm2-sm3)$"
    )
    settlement_dir: Path | None = None
    settlement_payout_encoding: str = Field(default="gbk", pattern=r"^(gbk|utf-8)$")
    settlement_delivery: str = Field(default="pull", pattern=r"^(pull|push)$")
    # the bank's host-to-host API (its outbox of pain.002 and camt.053; its inbox when pushing)
    bank_base_url: str | None = None
    # ca.pem (trusted for the bank's server and client certificates) and our client certificate
    bank_tls_dir: Path | None = None
    bank_poll_s: float = Field(default=30.0, gt=0)
    # the HTTPS port (mutual TLS) where banks fetch their files; 0: no such listener
    bankfiles_port: int = Field(default=0, ge=0, le=65535)
    # the operators' listener (/metrics, /healthz, /readyz), never the public one that acquirers
    # and browsers reach; unset: no metrics are served; 0: any free port (logged)
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(default=None, ge=0, le=65535)
    # how often the service checks for a scheduled cut-off (each daily account once per business
    # day at its cut-off, Beijing time; real-time accounts at once); 0: only `tongjiao settle`
    settlement_cutoff_check_s: float = Field(default=0.0, ge=0)
    # acquirers' settlement accounts (payer account no. → acquirer), so that their money arriving
    # on our collection account is booked against the right receivable
    settlement_acquirer_accounts: dict[str, str] = Field(default_factory=dict)

    # nightly reconciliation: the fee each acquirer may charge (millionths of the amount, 0.60% =
    # 6000; government merchants usually pay none), how many days after a business day its
    # settlement credit reaches the collection account, and when the service runs it (Beijing
    # time, e.g. "02:30"; unset: only `tongjiao reconcile` or the systemd timer)
    recon_fee_ppm: dict[str, int] = Field(default_factory=dict)
    recon_settle_lag_days: int = Field(default=1, ge=0, le=10)
    recon_daily_at: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    # what staff read for each office code (a user's office, an order's office), e.g.
    # {"HALL1": "示范市不动产登记中心第一大厅"}; an office without a name shows its code
    office_names: dict[str, str] = Field(default_factory=dict)

    # limits a clerk meets at the window (named in the errors they produce)
    max_lines_per_order: int = Field(default=20, ge=1)
    max_line_fen: int = Field(default=100_000_000_000, ge=1)  # 10亿元
    max_order_fen: int = Field(default=500_000_000_000, ge=1)  # 50亿元
    order_ttl_s: int = Field(default=900, ge=30)

    # task runner
    workers: int = Field(default=2, ge=0)
    task_max_attempts: int = Field(default=8, ge=1)
    # how long a worker holds a task; a worker that dies mid-task gives it up after this long
    task_lease_s: float = Field(default=60.0, gt=0)
    # open attempts are polled this often during their first minute, then back off
    poll_first_s: float = Field(default=5.0, gt=0)
    poll_later_s: float = Field(default=30.0, gt=0)
    # payment codes and card sales: how often to ask while the citizen confirms, and how long to
    # wait before an unknown outcome is reversed
    code_poll_s: float = Field(default=2.0, gt=0)
    code_wait_s: float = Field(default=60.0, gt=0)
    card_wait_s: float = Field(default=180.0, gt=0)

    # webhooks to the case system: how long one delivery may take (kept below task_lease_s, so
    # no second worker takes an attempt still in flight), and a factor on the retry schedule
    # (clearing.domain.webhooks.RETRY_SCHEDULE_S, 24 h in all); tests compress it
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_schedule_scale: float = Field(default=1.0, gt=0, le=1)
    # a rotated-out signing secret keeps signing this long, while the receiver changes over
    webhook_rotation_overlap_h: int = Field(default=24, ge=0, le=720)

    # signing in (等保三级 8.1.4.1; docs/decisions, the login decision): password hashes run on
    # this many threads, with this many more requests allowed to wait (beyond: 503, try again)
    password_hash_workers: int = Field(default=1, ge=1, le=16)
    password_hash_queue: int = Field(default=16, ge=0, le=1000)
    # consecutive failures of one user name before it is locked, and for how long
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=30, ge=1)
    # failures from one address in 15 minutes before it is refused (429) for a while
    login_address_max_failures: int = Field(default=50, ge=1)
    # a session unused this long ends (sliding); it ends after 10 hours whatever happens
    session_idle_minutes: int = Field(default=30, ge=1)
    # the service is reached over HTTPS (itself or a TLS-terminating proxy): cookies get Secure
    behind_tls: bool = False
    # proxies whose X-Forwarded-For (client address) and X-Forwarded-Proto are believed
    trusted_proxies: list[str] = Field(default_factory=list)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log level must be DEBUG, INFO, WARNING or ERROR")
        return v

    def pay_link_key_path(self) -> Path:
        return self.pay_link_key_file or Path(self.var_dir) / "keys" / "pay-link-hmac.key"

    def audit_paths(self) -> tuple[Path, Path, Path]:
        """The checkpoint key, the witness file and the retired keys' folder."""
        var = Path(self.var_dir)
        return (
            self.audit_key_file or var / "keys" / "audit-checkpoint-ed25519.pem",
            self.audit_witness_file or var / "audit" / "witness.jsonl",
            self.audit_retired_keys_dir or var / "keys" / "audit-retired",
        )
