using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace MailAgent.Queue;

/// <summary>Why a recipient waits in the deferred queue, from its <c>delay_reason</c>.</summary>
internal enum DeferralReason
{
    Refused,
    TimedOut,
    Dns,
    Tls,
    GreylistRateLimit,
    Reputation,
    Other,
}

/// <summary>
/// Classifies Postfix <c>delay_reason</c> texts. Rules, ASCII case-insensitive, first match wins:
/// <list type="number">
/// <item><c>refused</c>: "connection refused".</item>
/// <item><c>timed_out</c>: "timed out" (connect, greeting, or any later stage of the conversation).</item>
/// <item><c>dns</c>: "host or domain name not found", "name service error", "name server reply".</item>
/// <item><c>tls</c>: "tls" (also STARTTLS), "ssl", "certificate".</item>
/// <item><c>greylist_rate_limit</c>: "greylist", "graylist", "grey list", "gray list", "rate limit",
/// "ratelimit", "rate-limit", "rate that", "too many", "throttl", "come back later"
/// — before reputation, because greylisting answers with 4.7.1 as often as not.</item>
/// <item><c>reputation</c>: an enhanced status code 4.7.x not part of a longer number (an IP address
/// such as 10.4.7.1 is not one), "blocked", "blocklist", "block list", "blacklist", "denylist",
/// "reputation", "spam", "unsolicited", "dnsbl".</item>
/// <item><c>other</c>: anything else (lost connection, no route to host, mailbox full, 4.x.x of other
/// classes), and a recipient without a reason.</item>
/// </list>
/// </summary>
internal static class DeferralReasons
{
    /// <summary>The <c>reason_class</c> label values, indexed by <see cref="DeferralReason"/>.</summary>
    public static ImmutableArray<string> Labels { get; } = ["refused", "timed_out", "dns", "tls", "greylist_rate_limit", "reputation", "other"];

    public static int Count => Labels.Length;

    private static readonly SearchValues<string> Refused = Create("connection refused");
    private static readonly SearchValues<string> TimedOut = Create("timed out");
    private static readonly SearchValues<string> Dns = Create("host or domain name not found", "name service error", "name server reply");
    private static readonly SearchValues<string> Tls = Create("tls", "ssl", "certificate");
    private static readonly SearchValues<string> Greylist = Create(
        "greylist", "graylist", "grey list", "gray list", "rate limit", "ratelimit", "rate-limit", "rate that",
        "too many", "throttl", "come back later");
    private static readonly SearchValues<string> Reputation = Create(
        "blocked", "blocklist", "block list", "blacklist", "denylist", "reputation", "spam", "unsolicited", "dnsbl");

    public static string Label(this DeferralReason reason) => Labels[(int)reason];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DeferralReason Classify(ReadOnlySpan<char> reason)
    {
        if (reason.IsEmpty)
            return DeferralReason.Other;
        if (reason.ContainsAny(Refused))
            return DeferralReason.Refused;
        if (reason.ContainsAny(TimedOut))
            return DeferralReason.TimedOut;
        if (reason.ContainsAny(Dns))
            return DeferralReason.Dns;
        if (reason.ContainsAny(Tls))
            return DeferralReason.Tls;
        if (reason.ContainsAny(Greylist))
            return DeferralReason.GreylistRateLimit;
        if (HasSecurityStatusCode(reason) || reason.ContainsAny(Reputation))
            return DeferralReason.Reputation;
        return DeferralReason.Other;
    }

    /// <summary>True when the text has an enhanced status code 4.7.N standing alone (RFC 3463 class 4, subject 7: security or policy).</summary>
    private static bool HasSecurityStatusCode(ReadOnlySpan<char> text)
    {
        int from = 0;
        while (from < text.Length)
        {
            int at = text[from..].IndexOf("4.7.", StringComparison.Ordinal);
            if (at < 0)
                return false;
            at += from;
            bool standsAlone = at == 0 || !(char.IsAsciiDigit(text[at - 1]) || text[at - 1] == '.');
            if (standsAlone && at + 4 < text.Length && char.IsAsciiDigit(text[at + 4]))
                return true;
            from = at + 1;
        }

        return false;
    }

    private static SearchValues<string> Create(params string[] phrases) => SearchValues.Create(phrases, StringComparison.OrdinalIgnoreCase);
}
