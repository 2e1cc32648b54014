namespace MailAgent.LogParsing;

/// <summary>Understands the message part of a line written by a Postfix program.</summary>
internal static class PostfixMessage
{
    public static void Parse(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (QueueIds.TrySplit(s, out var qid, out var rest))
        {
            p.QueueId = qid;
            s = rest;
        }

        p.Message = s;

        bool handled = p.Daemon switch
        {
            Daemon.Smtpd => Smtpd(s, ref p),
            Daemon.Postscreen => Postscreen(s, ref p) || Smtpd(s, ref p),
            Daemon.Smtp or Daemon.Lmtp => Smtp(s, ref p),
            Daemon.Local or Daemon.Virtual or Daemon.Pipe or Daemon.Error or Daemon.Retry or Daemon.Discard => Delivery.TryParse(s, ref p),
            Daemon.Verify => Delivery.TryParse(s, ref p) || CacheCleanup(s, ref p),
            Daemon.Tlsproxy => Tlsproxy(s, ref p),
            Daemon.Cleanup => Cleanup(s, ref p),
            Daemon.Qmgr or Daemon.Oqmgr => Qmgr(s, ref p),
            Daemon.Pickup => Pickup(s, ref p),
            Daemon.Bounce => Bounce(s, ref p),
            Daemon.Master => Master(s, ref p),
            Daemon.PostfixScript => Script(s, ref p),
            Daemon.Postsuper => Postsuper(s, ref p),
            Daemon.Anvil or Daemon.Scache => Statistics(s, ref p),
            Daemon.Dnsblog => Dnsblog(s, ref p),
            _ => false,
        };

        if (!handled)
            Generic(s, ref p);
    }

    /// <summary>Shapes any Postfix program may write: severities and table reloads.</summary>
    private static void Generic(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (TrySeverity(s, ref p))
            return;
        if (s.StartsWith("table "u8) && s.EndsWith("has changed -- restarting"u8))
        {
            p.Kind = EventKind.Informational;
            return;
        }

        // A delivery line written by a transport with an unusual name (e.g. "postfix/relay/custom").
        if (s.StartsWith("to="u8) && Delivery.TryParse(s, ref p))
            return;
        p.Kind = EventKind.Unparsed;
    }

    private static bool TrySeverity(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        Severity severity;
        if (s.StartsWith("warning: "u8))
            severity = Severity.Warning;
        else if (s.StartsWith("error: "u8))
            severity = Severity.Error;
        else if (s.StartsWith("fatal: "u8))
            severity = Severity.Fatal;
        else if (s.StartsWith("panic: "u8))
            severity = Severity.Panic;
        else
            return false;
        p.Severity = severity;
        p.Kind = EventKind.Severity;
        return true;
    }

    private static bool Smtpd(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("connect from "u8))
        {
            p.Kind = EventKind.SmtpdConnect;
            p.Client = s[13..];
            return true;
        }

        if (s.StartsWith("disconnect from "u8))
        {
            p.Kind = EventKind.SmtpdDisconnect;
            var c = s[16..];
            int sp = c.IndexOf((byte)' ');
            p.Client = sp < 0 ? c : c[..sp];
            return true;
        }

        if (s.StartsWith("client="u8))
        {
            p.Kind = EventKind.SmtpdClient;
            var c = s[7..];
            int comma = c.IndexOf(", "u8);
            p.Client = comma < 0 ? c : c[..comma];
            p.SaslMethod = SpanText.Field(s, "sasl_method="u8);
            return true;
        }

        if (Reject.TryParse(s, ref p))
            return true;

        if (s.StartsWith("lost connection after "u8))
        {
            p.Kind = EventKind.SmtpdLostConnection;
            p.Stage = Reject.StageOf(Word(s[22..]));
            return true;
        }

        if (s.StartsWith("timeout after "u8))
        {
            p.Kind = EventKind.SmtpdTimeout;
            p.Stage = Reject.StageOf(Word(s[14..]));
            return true;
        }

        if (s.StartsWith("warning: "u8))
        {
            var w = s[9..];
            int sasl = w.IndexOf(": SASL "u8);
            if (sasl > 0 && SpanText.Contains(w, " authentication failed"u8))
            {
                p.Kind = EventKind.SaslFailure;
                p.Severity = Severity.Warning;
                p.Client = w[..sasl];
                p.SaslMethod = Word(w[(sasl + 7)..]);
                return true;
            }

            return false;
        }

        if (Tls.TryParse(s, ref p))
            return true;

        if (s.StartsWith("too many errors after "u8) || s.StartsWith("improper command pipelining after "u8)
            || s.StartsWith("setting up TLS connection from "u8) || s.StartsWith("SSL_accept error from "u8)
            || s.StartsWith("discarding EHLO keywords: "u8) || s.StartsWith("proxy-accept: "u8) || s.StartsWith("proxy-reject: "u8)
            || s.StartsWith("NOQUEUE: client="u8) || s.StartsWith("TLS SNI "u8) || s.StartsWith("abort: "u8)
            || s.StartsWith("replace: "u8) || s.StartsWith("prepend: "u8) || s.StartsWith("info: "u8) || s.StartsWith("warn: "u8)
            || s.StartsWith("Trusted TLS"u8) || s.StartsWith("SASL authentication "u8) || s.StartsWith("sasl_"u8)
            || s.StartsWith("message-id="u8) || s.StartsWith("enabling PIX"u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Postscreen(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        PostscreenKind kind;
        if (s.StartsWith("CONNECT from "u8))
            kind = PostscreenKind.Connect;
        else if (s.StartsWith("PASS NEW "u8))
            kind = PostscreenKind.PassNew;
        else if (s.StartsWith("PASS OLD "u8))
            kind = PostscreenKind.PassOld;
        else if (s.StartsWith("PREGREET "u8))
            kind = PostscreenKind.Pregreet;
        else if (s.StartsWith("HANGUP "u8))
            kind = PostscreenKind.Hangup;
        else if (s.StartsWith("DNSBL rank "u8))
            kind = PostscreenKind.Dnsbl;
        else if (s.StartsWith("DISCONNECT "u8))
            kind = PostscreenKind.Disconnect;
        else if (s.StartsWith("WHITELISTED "u8) || s.StartsWith("ALLOWLISTED "u8))
            kind = PostscreenKind.Whitelisted;
        else if (s.StartsWith("BLACKLISTED "u8) || s.StartsWith("DENYLISTED "u8))
            kind = PostscreenKind.Blacklisted;
        else if (s.StartsWith("NON-SMTP COMMAND "u8))
            kind = PostscreenKind.NonSmtp;
        else if (s.StartsWith("BARE NEWLINE "u8))
            kind = PostscreenKind.BareNewline;
        else if (s.StartsWith("COMMAND PIPELINING "u8))
            kind = PostscreenKind.Pipelining;
        else if (s.StartsWith("COMMAND "u8) || s.StartsWith("DATA without valid RCPT"u8) || s.StartsWith("BDAT without valid RCPT"u8) || s.StartsWith("WHITELIST VETO "u8) || s.StartsWith("ALLOWLIST VETO "u8)
                 || s.StartsWith("cache "u8) || s.StartsWith("BLACKLIST VETO "u8) || s.StartsWith("DENYLIST VETO "u8))
            kind = PostscreenKind.Other;
        else
            return false;
        p.Kind = EventKind.PostscreenEvent;
        p.Postscreen = kind;
        return true;
    }

    private static bool Smtp(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("to="u8))
            return Delivery.TryParse(s, ref p);

        if (s.StartsWith("connect to "u8))
        {
            p.Kind = EventKind.ConnectFailure;
            p.ConnectFailure = Delivery.ConnectReason(s);
            return true;
        }

        // A failed attempt before the next MX host is tried, including SASL login to a relay.
        if ((s.StartsWith("host "u8) && (SpanText.Contains(s, " said: "u8) || SpanText.Contains(s, " refused to talk to me: "u8)))
            || (s.StartsWith("SASL "u8) && SpanText.Contains(s, " authentication failed; server "u8) && SpanText.Contains(s, " said: "u8)))
        {
            p.Kind = EventKind.RemoteSaid;
            int said = s.IndexOf(": "u8);
            p.ReplyCode = said < 0 ? 0 : SpanText.ReplyCodeAt(s[(said + 2)..]);
            return true;
        }

        if (s.StartsWith("lost connection with "u8) || s.StartsWith("conversation with "u8))
        {
            p.Kind = EventKind.ConnectFailure;
            p.ConnectFailure = Delivery.ConnectReason(s);
            return true;
        }

        if (s.StartsWith("Cannot start TLS: "u8) || s.StartsWith("SSL_connect error "u8) || s.StartsWith("TLS is required, but "u8)
            || s.StartsWith("server certificate verification failed "u8))
        {
            p.Kind = EventKind.ConnectFailure;
            p.ConnectFailure = ConnectFailureReason.TlsFailure;
            return true;
        }

        if (Tls.TryParse(s, ref p))
            return true;

        if (s.StartsWith("enabling PIX "u8) || s.StartsWith("replace: "u8) || s.StartsWith("info: "u8)
            || s.StartsWith("prepend: "u8) || s.StartsWith("setting up TLS connection to "u8) || s.StartsWith("sender non-delivery"u8)
            || s.StartsWith("warn: "u8) || s.StartsWith("TLS SNI "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Cleanup(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("message-id="u8))
        {
            p.Kind = EventKind.CleanupMessageId;
            return true;
        }

        if (Reject.TryParseCleanup(s, ref p))
            return true;

        if (s.StartsWith("resent-message-id="u8) || s.StartsWith("replace: "u8) || s.StartsWith("info: "u8)
            || s.StartsWith("prepend: "u8) || s.StartsWith("redirect: "u8) || s.StartsWith("filter: "u8)
            || s.StartsWith("milter-header-"u8) || s.StartsWith("bcc: "u8) || s.StartsWith("strip: "u8) || s.StartsWith("warn: "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Qmgr(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("from="u8))
        {
            bool bracketed = s.Length > 5 && s[5] == '<';
            int close = bracketed ? SpanText.IndexOf(s, (byte)'>', (byte)',', (byte)' ') : SpanText.IndexOf(s, (byte)',', (byte)' ');
            if (close < 0)
                return false;
            p.From = s[(bracketed ? 6 : 5)..close];
            var rest = s[(close + (bracketed ? 3 : 2))..];
            if (rest.StartsWith("size="u8))
            {
                p.Kind = EventKind.QmgrQueued;
                // "size=N, nrcpt=M (queue active)": read in place when the size is a number (then "nrcpt=" cannot be
                // inside it, so the first "nrcpt=" is the one after it); the field search otherwise.
                var size = FieldValue(rest[5..]);
                p.Size = SpanText.ParseLong(size);
                var afterSize = rest[(5 + size.Length)..];
                var nrcpt = p.Size >= 0 && afterSize.StartsWith(", nrcpt="u8) ? FieldValue(afterSize[8..]) : SpanText.Field(rest, "nrcpt="u8);
                p.Recipients = (int)Math.Min(int.MaxValue, SpanText.ParseLong(nrcpt));
                return p.Size >= 0;
            }

            if (rest.StartsWith("status=expired"u8) || rest.StartsWith("status=force-expired"u8))
            {
                p.Kind = EventKind.QmgrExpired;
                p.ForcedExpiry = rest.StartsWith("status=force-expired"u8);
                p.Status = DeliveryStatus.Expired;
                return true;
            }

            return false;
        }

        if (s.SequenceEqual("removed"u8))
        {
            p.Kind = EventKind.QmgrRemoved;
            return true;
        }

        if (s.StartsWith("to="u8))
            return Delivery.TryParse(s, ref p);

        if (s.StartsWith("skipped, still being delivered"u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Pickup(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (!p.QueueId.IsEmpty && (s.StartsWith("uid="u8) || s.StartsWith("sender="u8)))
        {
            p.Kind = EventKind.PickupReceived;
            SpanText.TryBetween(s, "from=<"u8, ">"u8, out p.From, out _);
            return true;
        }

        return false;
    }

    private static bool Bounce(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        NoticeKind kind;
        if (s.StartsWith("sender non-delivery notification: "u8) || s.StartsWith("postmaster non-delivery notification: "u8))
            kind = NoticeKind.NonDelivery;
        else if (s.StartsWith("sender delivery status notification: "u8))
            kind = NoticeKind.DeliveryStatus;
        else if (s.StartsWith("sender delay notification: "u8) || s.StartsWith("postmaster delay notification: "u8))
            kind = NoticeKind.Delay;
        else if (s.StartsWith("sender success notification: "u8))
            kind = NoticeKind.Success;
        else if (SpanText.Contains(s, " notification: "u8) && !s.StartsWith("warning: "u8))
            kind = NoticeKind.Other;
        else
            return false;
        p.Kind = EventKind.BounceNotice;
        p.Notice = kind;
        int colon = s.LastIndexOf(": "u8);
        p.NoticeQueueId = colon < 0 ? default : s[(colon + 2)..];
        return true;
    }

    private static bool Master(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        MasterEventKind kind;
        if (s.StartsWith("daemon started"u8))
            kind = MasterEventKind.Started;
        else if (s.StartsWith("reload"u8))
            kind = MasterEventKind.Reload;
        else if (s.StartsWith("terminating on signal"u8))
            kind = MasterEventKind.Terminating;
        else if (s.StartsWith("warning: "u8) && s.EndsWith("-- throttling"u8))
        {
            kind = MasterEventKind.Throttling;
            p.Severity = Severity.Warning;
        }
        else
            return false;
        p.Kind = EventKind.MasterEvent;
        p.MasterEvent = kind;
        return true;
    }

    private static bool Script(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("starting the Postfix"u8) || s.StartsWith("stopping the Postfix"u8) || s.StartsWith("refreshing the Postfix"u8)
            || s.StartsWith("waiting for the Postfix"u8) || s.StartsWith("the Postfix mail system is "u8)
            || s.StartsWith("Postfix is "u8) || s.StartsWith("starting postfix"u8) || s.StartsWith("stopping postfix"u8))
        {
            p.Kind = EventKind.ScriptEvent;
            return true;
        }

        return false;
    }

    private static bool Postsuper(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (!p.QueueId.IsEmpty)
        {
            if (s.SequenceEqual("expired"u8) || s.SequenceEqual("removed"u8) || s.SequenceEqual("placed on hold"u8)
                || s.SequenceEqual("released from hold"u8) || s.SequenceEqual("requeued"u8))
            {
                p.Kind = EventKind.PostsuperAction;
                return true;
            }

            return false;
        }

        if (s.StartsWith("Force-expired: "u8) || s.StartsWith("Deleted: "u8) || s.StartsWith("Placed on hold: "u8)
            || s.StartsWith("Released from hold: "u8) || s.StartsWith("Requeued: "u8))
        {
            p.Kind = EventKind.PostsuperAction;
            return true;
        }

        return false;
    }

    // verify's and postscreen's cache maintenance: "cache lmdb:/var/lib/postfix/verify_cache full cleanup: retained=…".
    private static bool CacheCleanup(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("cache "u8) && SpanText.Contains(s, " cleanup: "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    // tlsproxy, which does TLS for postscreen (and for the smtp client's connection reuse).
    private static bool Tlsproxy(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("CONNECT from "u8) || s.StartsWith("DISCONNECT "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Statistics(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("statistics: "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    private static bool Dnsblog(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.StartsWith("addr "u8) && SpanText.Contains(s, " listed by domain "u8))
        {
            p.Kind = EventKind.Informational;
            return true;
        }

        return false;
    }

    // What SpanText.Field returns after the key: up to the next comma or space.
    private static ReadOnlySpan<byte> FieldValue(ReadOnlySpan<byte> v)
    {
        int i = 0;
        while (i < v.Length && v[i] != ',' && v[i] != ' ')
            i++;
        return v[..i];
    }

    /// <summary>The text up to the next space.</summary>
    internal static ReadOnlySpan<byte> Word(ReadOnlySpan<byte> s)
    {
        int sp = s.IndexOf((byte)' ');
        return sp < 0 ? s : s[..sp];
    }
}
