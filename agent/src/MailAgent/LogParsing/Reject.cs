namespace MailAgent.LogParsing;

/// <summary>
/// Access-control actions logged by smtpd and postscreen (<c>reject: RCPT from host[ip]: 554 5.7.1 …</c>)
/// and by cleanup for content checks and milters (<c>reject: header Subject: … : 5.7.1 …</c>).
/// </summary>
internal static class Reject
{
    public static bool TryParse(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (!TryAction(s, out var action, out var rest))
            return false;
        int from = rest.IndexOf(" from "u8);
        if (from <= 0)
            return false;
        p.Kind = EventKind.Reject;
        p.RejectAction = action;
        p.Stage = action == RejectAction.MilterReject && rest.StartsWith("END-OF-MESSAGE"u8) ? SmtpStage.EndOfMessage : StageOf(rest[..from]);
        p.ReplyCode = CodeAfterClient(rest[(from + 6)..]);
        return true;
    }

    public static bool TryParseCleanup(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        RejectAction action;
        ReadOnlySpan<byte> rest;
        if (s.StartsWith("warning: "u8))
        {
            // pflogsumm counts cleanup "warning: header|body …" as a reject warning (WARN action).
            action = RejectAction.RejectWarning;
            rest = s[9..];
            if (!(rest.StartsWith("header "u8) || rest.StartsWith("body "u8) || rest.StartsWith("END-OF-MESSAGE "u8)))
                return false;
        }
        else if (!TryAction(s, out action, out rest))
        {
            return false;
        }

        p.Kind = EventKind.Reject;
        p.RejectAction = action;
        if (rest.StartsWith("header "u8))
            p.Stage = SmtpStage.Header;
        else if (rest.StartsWith("body "u8))
            p.Stage = SmtpStage.Body;
        else if (rest.StartsWith("END-OF-MESSAGE"u8))
            p.Stage = SmtpStage.EndOfMessage;
        else
        {
            int from = rest.IndexOf(" from "u8);
            p.Stage = from > 0 ? StageOf(rest[..from]) : SmtpStage.Unknown;
        }

        int fromAt = rest.IndexOf(" from "u8);
        p.ReplyCode = fromAt < 0 ? 0 : CodeAfterClient(rest[(fromAt + 6)..]);
        return true;
    }

    private static bool TryAction(ReadOnlySpan<byte> s, out RejectAction action, out ReadOnlySpan<byte> rest)
    {
        action = RejectAction.Reject;
        rest = default;
        int colon = SpanText.IndexOf(s[..Math.Min(s.Length, 16)], (byte)':', (byte)' ');
        if (colon <= 0)
            return false;
        var word = s[..colon];
        switch (word.Length)
        {
            case 4 when word.SequenceEqual("hold"u8):
                action = RejectAction.Hold;
                break;
            case 6 when word.SequenceEqual("reject"u8):
                action = RejectAction.Reject;
                break;
            case 6 when word.SequenceEqual("filter"u8):
                action = RejectAction.Filter;
                break;
            case 7 when word.SequenceEqual("discard"u8):
                action = RejectAction.Discard;
                break;
            case 8 when word.SequenceEqual("redirect"u8):
                action = RejectAction.Redirect;
                break;
            case 11 when word.SequenceEqual("milter-hold"u8):
                action = RejectAction.Hold;
                break;
            case 13 when word.SequenceEqual("milter-reject"u8):
                action = RejectAction.MilterReject;
                break;
            case 14 when word.SequenceEqual("reject_warning"u8):
                action = RejectAction.RejectWarning;
                break;
            case 14 when word.SequenceEqual("milter-discard"u8):
                action = RejectAction.Discard;
                break;
            default:
                return false;
        }

        rest = s[(colon + 2)..];
        return true;
    }

    // "host[ip]: 554 5.7.1 …" or postscreen's "[ip]:port: 550 …"; the code follows the first ": " that precedes three digits.
    private static int CodeAfterClient(ReadOnlySpan<byte> s)
    {
        int limit = Math.Min(s.Length, 512);
        var window = s[..limit];
        int start = 0;
        while (true)
        {
            int i = window[start..].IndexOf(": "u8);
            if (i < 0)
                return 0;
            int at = start + i + 2;
            int code = SpanText.ReplyCodeAt(s[at..]);
            if (code != 0)
                return code;
            start = at;
        }
    }

    public static SmtpStage StageOf(ReadOnlySpan<byte> word) => word.Length switch
    {
        4 when word.SequenceEqual("RCPT"u8) => SmtpStage.Rcpt,
        4 when word.SequenceEqual("MAIL"u8) => SmtpStage.Mail,
        4 when word.SequenceEqual("HELO"u8) => SmtpStage.Helo,
        4 when word.SequenceEqual("EHLO"u8) => SmtpStage.Ehlo,
        4 when word.SequenceEqual("DATA"u8) => SmtpStage.Data,
        4 when word.SequenceEqual("BDAT"u8) => SmtpStage.Bdat,
        4 when word.SequenceEqual("VRFY"u8) => SmtpStage.Vrfy,
        4 when word.SequenceEqual("ETRN"u8) => SmtpStage.Etrn,
        4 when word.SequenceEqual("AUTH"u8) => SmtpStage.Auth,
        7 when word.SequenceEqual("CONNECT"u8) => SmtpStage.Connect,
        8 when word.SequenceEqual("STARTTLS"u8) => SmtpStage.StartTls,
        14 when word.SequenceEqual("END-OF-MESSAGE"u8) => SmtpStage.EndOfMessage,
        _ => SmtpStage.Unknown,
    };
}
