using System.Text;
using MailAgent.LogParsing;

namespace MailAgent.Metrics;

/// <summary>The fixed label values of the log-derived series, indexed by the parser's enums.</summary>
internal static class LabelSets
{
    public static readonly string[] DaemonNames = BuildDaemonNames();

    /// <summary><c>program</c> label: one slot per Postfix daemon, then opendkim, then every other program.</summary>
    public static readonly string[] Programs = [.. DaemonNames.Select(d => "postfix/" + d), "opendkim", "other"];
    public static readonly int OpenDkimProgram = DaemonNames.Length;
    public static readonly int ForeignProgram = DaemonNames.Length + 1;

    public static readonly string[] Services = ["smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "qmgr", "verify", "other"];
    public static readonly string[] Statuses = ["other", "sent", "deferred", "bounced", "expired", "undeliverable", "deliverable", "softbounce"];
    public static readonly string[] SaslMethods = ["", "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256", "GSSAPI", "NTLM", "EXTERNAL", "ANONYMOUS", "other"];
    public static readonly string[] Stages = ["unknown", "connect", "helo", "ehlo", "mail", "rcpt", "data", "bdat", "end_of_message", "vrfy", "etrn", "header", "body", "auth", "starttls", "milter"];
    public const int MilterStage = 15;
    public static readonly string[] ReplyCodes = BuildReplyCodes();
    public static readonly string[] DsnClasses = ["2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "other"];
    public static readonly string[] ConnectReasons = ["other", "refused", "timed_out", "no_route", "network_unreachable", "host_unreachable", "lost_connection", "greeting_timeout", "tls_failure", "dns_failure"];
    public static readonly string[] TlsTrusts = ["anonymous", "untrusted", "trusted", "verified"];
    public static readonly string[] TlsProtocols = ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3", "other"];
    public static readonly string[] NoticeKinds = ["non_delivery", "delivery_status", "delay", "success", "other"];
    public static readonly string[] MasterEvents = ["started", "reload", "terminating", "throttling", "fatal", "panic"];
    public static readonly string[] PostscreenEvents = ["connect", "pass_new", "pass_old", "pregreet", "hangup", "dnsbl", "disconnect", "allowlisted", "denylisted", "non_smtp", "bare_newline", "pipelining", "other"];
    public static readonly string[] DkimErrors = ["other", "key_load", "key_insecure", "signing_table_miss", "key_retrieval", "bad_signature", "unknown_key", "dns"];
    public static readonly string[] DkimResults = ["pass", "fail", "none", "other"];
    public static readonly string[] Severities = ["info", "warning", "error", "fatal", "panic"];
    public static readonly string[] DelayStages = ["before_queue_manager", "queue_manager", "connection_setup", "transmission"];
    public static readonly string[] Outcomes = ["delivered", "delivered_after_deferral", "bounced", "expired"];
    public static readonly string[] EvictionReasons = ["never_removed", "incomplete", "capacity", "reused"];

    public static int ServiceIndex(Daemon d) => d switch
    {
        Daemon.Smtp => 0,
        Daemon.Lmtp => 1,
        Daemon.Local => 2,
        Daemon.Virtual => 3,
        Daemon.Pipe => 4,
        Daemon.Error => 5,
        Daemon.Retry => 6,
        Daemon.Discard => 7,
        Daemon.Qmgr or Daemon.Oqmgr => 8,
        Daemon.Verify => 9,
        _ => 10,
    };

    public static int SaslIndex(ReadOnlySpan<byte> method)
    {
        if (method.IsEmpty)
            return 0;
        for (int i = 1; i < SaslMethods.Length - 1; i++)
        {
            if (Ascii.EqualsIgnoreCase(method, SaslMethods[i]))
                return i;
        }

        return SaslMethods.Length - 1;
    }

    /// <summary>Reply codes 400–599 by value, "" when the line has none, "4xx"/"5xx" when only the class is known.</summary>
    public static int ReplyCodeIndex(int code, ReadOnlySpan<byte> dsnFallback)
    {
        if (code is >= 400 and <= 599)
            return 3 + (code - 400);
        if (!dsnFallback.IsEmpty && (dsnFallback[0] == '4' || dsnFallback[0] == '5'))
            return dsnFallback[0] == '4' ? 1 : 2;
        return 0;
    }

    public static int DsnClassIndex(ReadOnlySpan<byte> dsn)
    {
        if (dsn.Length >= 3 && dsn[1] == '.' && (uint)(dsn[2] - '0') <= 7)
        {
            int cls = dsn[0] switch { (byte)'2' => 0, (byte)'4' => 1, (byte)'5' => 2, _ => -1 };
            if (cls >= 0)
                return (cls * 8) + (dsn[2] - '0');
        }

        return DsnClasses.Length - 1;
    }

    public static int TlsProtocolIndex(ReadOnlySpan<byte> protocol)
    {
        for (int i = 0; i < TlsProtocols.Length - 1; i++)
        {
            if (Ascii.Equals(protocol, TlsProtocols[i]))
                return i;
        }

        return TlsProtocols.Length - 1;
    }

    private static string[] BuildDaemonNames()
    {
        var names = new string[(int)Daemon.OpenDkim];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = (Daemon)i switch
            {
                Daemon.Other => "other",
                Daemon.PostfixScript => "postfix-script",
                Daemon.TrivialRewrite => "trivial-rewrite",
                var d => d.ToString().ToLowerInvariant(),
            };
        }

        return names;
    }

    private static string[] BuildReplyCodes()
    {
        var codes = new string[3 + 200];
        codes[0] = "";
        codes[1] = "4xx";
        codes[2] = "5xx";
        for (int i = 0; i < 200; i++)
            codes[3 + i] = (400 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return codes;
    }
}
