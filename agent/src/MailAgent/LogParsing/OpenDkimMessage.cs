namespace MailAgent.LogParsing;

/// <summary>Understands OpenDKIM's syslog messages (signing, verification, key and table errors).</summary>
internal static class OpenDkimMessage
{
    public static void Parse(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (QueueIds.TrySplit(s, out var qid, out var rest))
        {
            p.QueueId = qid;
            s = rest;
        }
        else if (TryMilterJobId(s, out qid, out rest))
        {
            // With a non-Postfix MTA, or before the queue ID is known, OpenDKIM logs a job ID such as "NOQUEUE".
            p.QueueId = qid;
            s = rest;
        }

        p.Message = s;

        if (s.StartsWith("DKIM-Signature field added"u8))
        {
            p.Kind = EventKind.DkimSigned;
            var fields = SpanText.TrailingParenthesised(s);
            p.DkimSelector = ValueOf(fields, "s="u8);
            p.DkimDomain = ValueOf(fields, "d="u8);
            return;
        }

        if (s.StartsWith("DKIM verification successful"u8))
        {
            p.Kind = EventKind.DkimVerified;
            p.DkimResult = DkimVerifyResult.Pass;
            return;
        }

        if (s.StartsWith("signature verification failed"u8) || s.StartsWith("DKIM verification failed"u8)
            || (SpanText.Contains(s, "signature="u8) && SpanText.Contains(s, "failed"u8)))
        {
            p.Kind = EventKind.DkimVerified;
            p.DkimResult = DkimVerifyResult.Fail;
            return;
        }

        if (s.StartsWith("no signature data"u8) || s.StartsWith("no signatures"u8))
        {
            p.Kind = EventKind.DkimVerified;
            p.DkimResult = DkimVerifyResult.None;
            return;
        }

        var error = ErrorOf(s);
        if (error != null)
        {
            p.Kind = EventKind.DkimError;
            p.DkimError = error.Value;
            if (error == DkimErrorKind.KeyRetrieval)
            {
                var fields = SpanText.TrailingParenthesised(s);
                p.DkimSelector = ValueOf(fields, "s="u8);
                p.DkimDomain = ValueOf(fields, "d="u8);
            }

            return;
        }

        if (s.StartsWith("OpenDKIM Filter"u8) || s.StartsWith("Sendmail DKIM Filter"u8) || SpanText.Contains(s, " not internal"u8)
            || s.StartsWith("not authenticated"u8) || s.StartsWith("external host "u8) || s.StartsWith("ADSP "u8)
            || s.StartsWith("message has signatures from "u8) || s.StartsWith("skipped signing"u8) || s.StartsWith("s="u8)
            || s.StartsWith("Authentication-Results"u8) || s.StartsWith("milter"u8) || s.StartsWith("DKIM-Signature"u8)
            || s.StartsWith("ignoring header"u8) || s.StartsWith("message ID"u8) || s.StartsWith("terminating"u8)
            || s.StartsWith("loading "u8) || s.StartsWith("reloading"u8) || s.StartsWith("configuration"u8) || s.StartsWith("dkim_"u8)
            || s.StartsWith("mi_"u8) || s.StartsWith("connection from "u8) || s.StartsWith("BODY"u8) || s.StartsWith("["u8))
        {
            p.Kind = EventKind.DkimInfo;
            return;
        }

        p.Kind = EventKind.Unparsed;
    }

    private static DkimErrorKind? ErrorOf(ReadOnlySpan<byte> s)
    {
        if (s.StartsWith("error loading key"u8) || s.StartsWith("can't load key from"u8) || SpanText.Contains(s, "dkim_eoh(): "u8)
            || s.StartsWith("dkim_sign() failed"u8) || SpanText.Contains(s, "PEM_read_bio_PrivateKey"u8))
            return DkimErrorKind.KeyLoad;
        if (SpanText.Contains(s, "key data is not secure"u8))
            return DkimErrorKind.KeyInsecure;
        if (s.StartsWith("no signing table match"u8))
            return DkimErrorKind.SigningTableMiss;
        if (s.StartsWith("key retrieval failed"u8))
            return DkimErrorKind.KeyRetrieval;
        if (s.StartsWith("bad signature data"u8))
            return DkimErrorKind.BadSignature;
        if (s.StartsWith("signing table references unknown key"u8))
            return DkimErrorKind.UnknownKey;
        if (SpanText.Contains(s, "SSL error"u8) || s.StartsWith("can't sign"u8) || s.StartsWith("dkim_"u8) && SpanText.Contains(s, "failed"u8))
            return DkimErrorKind.Other;
        if (SpanText.Contains(s, "DNS"u8) && SpanText.Contains(s, "timeout"u8))
            return DkimErrorKind.Dns;
        return null;
    }

    private static bool TryMilterJobId(ReadOnlySpan<byte> s, out ReadOnlySpan<byte> id, out ReadOnlySpan<byte> rest)
    {
        id = default;
        rest = s;
        int colon = s[..Math.Min(s.Length, 20)].IndexOf(": "u8);
        if (colon <= 0)
            return false;
        var candidate = s[..colon];
        foreach (byte b in candidate)
        {
            if (!((uint)(b - '0') <= 9 || (uint)(b - 'A') <= 25))
                return false;
        }

        id = candidate;
        rest = s[(colon + 2)..];
        return true;
    }

    // "s=mail-2026, d=example.test" — selectors may contain '-' and '.', so read up to the comma.
    private static ReadOnlySpan<byte> ValueOf(ReadOnlySpan<byte> fields, ReadOnlySpan<byte> key)
    {
        int i = 0;
        while (i < fields.Length)
        {
            var part = fields[i..];
            if (part.StartsWith(key))
            {
                var v = part[key.Length..];
                int end = v.IndexOfAny((byte)',', (byte)' ', (byte)')');
                return end < 0 ? v : v[..end];
            }

            int next = part.IndexOf((byte)' ');
            if (next < 0)
                break;
            i += next + 1;
        }

        return default;
    }
}
