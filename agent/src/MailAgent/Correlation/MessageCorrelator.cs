using System.Runtime.InteropServices;
using MailAgent.LogParsing;

namespace MailAgent.Correlation;

/// <summary>What the correlator learned about the message a line belongs to.</summary>
internal struct CorrelationResult
{
    /// <summary>Size from the queue manager for this message's current lifetime, or -1.</summary>
    public long Size;
    /// <summary>The message entered through smtpd or pickup (pflogsumm's "received").</summary>
    public bool Received;
    /// <summary>This line is the first <c>from=…, size=</c> of the lifetime.</summary>
    public bool FirstQueueInsert;
    /// <summary>This line is the lifetime's first deferral.</summary>
    public bool FirstDeferral;
    /// <summary>End-to-end latency for a final recipient status, or NaN.</summary>
    public double Latency;
    /// <summary>Index into <c>LabelSets.Outcomes</c> when <see cref="Latency"/> is set.</summary>
    public int Outcome;
    /// <summary>The message's Message-ID (cleanup's <c>message-id=</c>, without brackets), or null.</summary>
    public string? MessageId;
    /// <summary>For a delivery line: 1 + the deferrals of this message logged before it.</summary>
    public int Attempt;
    /// <summary>The line's time in Unix seconds, or NaN.</summary>
    public double Time;
}

/// <summary>Counts of messages the correlator stopped tracking without seeing them end.</summary>
internal enum EvictionReason
{
    NeverRemoved,
    Incomplete,
    Capacity,
    Reused,
}

/// <summary>
/// Joins the lines of one message by queue ID (received → DKIM signed → queued → attempts →
/// final status → removed). A lifetime ends at qmgr's <c>removed</c> (queue IDs are reused), at
/// a cleanup reject, at an smtpd reject of the whole message, or at <c>postsuper -d</c>. The map is bounded by count and by age; what falls out is counted.
/// </summary>
internal sealed class MessageCorrelator
{
    private readonly Dictionary<QueueIdKey, MessageState> _messages = new();
    private readonly Queue<(QueueIdKey Key, long Serial, double Created)> _order = new();
    private readonly int _maxMessages;
    private readonly bool _keepMessageIds;
    private readonly double _maxAgeSeconds;
    private readonly Action<EvictionReason> _onEvicted;
    private readonly QueueIdKey[] _refusedBySmtpd = new QueueIdKey[64];
    private int _refusedNext;
    private long _serial;

    /// <param name="keepMessageIds">Whether to keep cleanup's Message-ID of each message (a string per message); only
    /// delivery events use it, so the daemon keeps them only when something observes its lines (the gRPC API).</param>
    public MessageCorrelator(int maxMessages, TimeSpan maxAge, Action<EvictionReason> onEvicted, bool keepMessageIds = true)
    {
        _keepMessageIds = keepMessageIds;
        _maxMessages = maxMessages;
        _maxAgeSeconds = maxAge.TotalSeconds;
        _onEvicted = onEvicted;
    }

    public int Count => _messages.Count;

    public CorrelationResult Observe(ref ParsedLine p, double time)
    {
        var result = new CorrelationResult { Size = -1, Latency = double.NaN, Time = time };
        if (p.QueueId.IsEmpty || p.QueueId.SequenceEqual("NOQUEUE"u8))
            return result;

        var key = QueueIdKey.From(p.QueueId);
        switch (p.Kind)
        {
            case EventKind.SmtpdClient:
            case EventKind.PickupReceived:
            {
                ref var s = ref Track(key, time, out bool existed);
                if (existed && (s.Received || s.Queued))
                {
                    // The previous lifetime never logged "removed": count it and start afresh.
                    _onEvicted(EvictionReason.Reused);
                    s = default;
                    s.Serial = ++_serial;
                    s.FirstSeen = time;
                    _order.Enqueue((key, s.Serial, time));
                }

                s.Received = true;
                s.ReceivedAt = time;
                result.Received = true;
                break;
            }

            case EventKind.QmgrQueued:
            {
                ref var s = ref Track(key, time, out _);
                if (!s.Queued)
                {
                    s.Queued = true;
                    s.Size = p.Size;
                    result.FirstQueueInsert = true;
                }

                Describe(ref s, ref result);
                break;
            }

            case EventKind.Delivery:
            {
                ref var s = ref Track(key, time, out bool existed);
                Describe(ref s, ref result);
                result.Attempt = s.Deferrals + 1;
                switch (p.Status)
                {
                    case DeliveryStatus.Deferred:
                        s.Deferrals++;
                        if (!s.Deferred)
                        {
                            s.Deferred = true;
                            result.FirstDeferral = true;
                        }

                        break;
                    case DeliveryStatus.Sent:
                        if (existed)
                            Latency(ref s, time, s.Deferred ? 1 : 0, ref result);
                        break;
                    case DeliveryStatus.Bounced:
                        if (existed)
                            Latency(ref s, time, 2, ref result);
                        break;
                }

                break;
            }

            case EventKind.QmgrExpired:
            {
                ref var s = ref Track(key, time, out bool existed);
                Describe(ref s, ref result);
                if (existed)
                    Latency(ref s, time, 3, ref result);
                break;
            }

            case EventKind.DkimSigned:
            {
                // OpenDKIM signs at the end of the message, after smtpd's client= or pickup's line.
                // A signature for a queue ID not being followed comes from a log read on its own
                // (or after the message ended) and must not start a lifetime nothing would end.
                ref var s = ref CollectionsMarshal.GetValueRefOrNullRef(_messages, key);
                if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref s))
                {
                    s.DkimSigned = true;
                    Describe(ref s, ref result);
                }

                break;
            }

            case EventKind.QmgrRemoved:
            {
                if (_messages.Remove(key, out var s))
                    Describe(ref s, ref result);
                break;
            }

            case EventKind.Reject when p.Daemon == Daemon.Cleanup && p.RejectAction is RejectAction.Reject or RejectAction.MilterReject or RejectAction.Discard:
                // Cleanup refused the message: its queue file is gone without a "removed" line.
                _messages.Remove(key);
                break;

            case EventKind.Reject when p.Daemon == Daemon.Smtpd && p.RejectAction is (RejectAction.Reject or RejectAction.MilterReject)
                                       && p.Stage is (SmtpStage.Data or SmtpStage.Bdat or SmtpStage.EndOfMessage):
                // smtpd refused the whole message it had opened in cleanup, which drops the queue file
                // without a "removed" line. (A RCPT reject refuses one recipient, not the message.)
                _messages.Remove(key);
                _refusedBySmtpd[_refusedNext] = key;
                _refusedNext = (_refusedNext + 1) % _refusedBySmtpd.Length;
                break;

            case EventKind.PostsuperAction when p.Message.SequenceEqual("removed"u8):
                // postsuper -d deletes the queue file itself; qmgr logs nothing more for it.
                _messages.Remove(key);
                break;

            default:
            {
                ref var s = ref CollectionsMarshal.GetValueRefOrNullRef(_messages, key);
                if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref s))
                {
                    if (p.Kind is EventKind.CleanupMessageId && _keepMessageIds)
                        s.MessageId = MessageIdOf(p.Message);
                    Describe(ref s, ref result);
                }
                else if (p.Kind is EventKind.CleanupMessageId && !ForgetRefused(key))
                {
                    ref var started = ref Track(key, time, out _);
                    if (_keepMessageIds)
                        started.MessageId = MessageIdOf(p.Message);
                }

                break;
            }
        }

        return result;
    }

    /// <summary>
    /// True (once) for a queue ID whose message smtpd refused lately. smtpd logs its END-OF-MESSAGE reject
    /// before cleanup works through the message still in its buffer, logs the message-id and drops the
    /// file: that late line belongs to the ended message and must not start a lifetime nothing would end.
    /// </summary>
    private bool ForgetRefused(QueueIdKey key)
    {
        for (int i = 0; i < _refusedBySmtpd.Length; i++)
        {
            if (_refusedBySmtpd[i] == key)
            {
                _refusedBySmtpd[i] = default;
                return true;
            }
        }

        return false;
    }

    /// <summary>Drops messages older than the age bound; call now and then with the log's current time.</summary>
    public void Expire(double now)
    {
        while (_order.TryPeek(out var head))
        {
            ref var s = ref CollectionsMarshal.GetValueRefOrNullRef(_messages, head.Key);
            bool stale = System.Runtime.CompilerServices.Unsafe.IsNullRef(ref s) || s.Serial != head.Serial;
            if (stale)
            {
                _order.Dequeue();
                continue;
            }

            if (now - head.Created <= _maxAgeSeconds && _messages.Count <= _maxMessages)
                break;
            _onEvicted(now - head.Created > _maxAgeSeconds ? (s.Queued ? EvictionReason.NeverRemoved : EvictionReason.Incomplete) : EvictionReason.Capacity);
            _messages.Remove(head.Key);
            _order.Dequeue();
        }

        // Entries of messages that ended normally linger in the order queue; rebuild it when they dominate.
        if (_order.Count > (4 * _messages.Count) + 4096)
        {
            var live = _order.Where(e => _messages.TryGetValue(e.Key, out var m) && m.Serial == e.Serial).ToArray();
            _order.Clear();
            foreach (var e in live)
                _order.Enqueue(e);
        }
    }

    private ref MessageState Track(QueueIdKey key, double time, out bool existed)
    {
        ref var s = ref CollectionsMarshal.GetValueRefOrAddDefault(_messages, key, out existed);
        if (!existed)
        {
            s.Serial = ++_serial;
            s.FirstSeen = time;
            _order.Enqueue((key, s.Serial, time));
            if (_messages.Count > _maxMessages)
                Expire(time);
            s = ref CollectionsMarshal.GetValueRefOrAddDefault(_messages, key, out _);
        }

        return ref s;
    }

    private static void Describe(ref MessageState s, ref CorrelationResult result)
    {
        result.Size = s.Queued ? s.Size : -1;
        result.Received = s.Received;
        result.MessageId = s.MessageId;
    }

    /// <summary><c>message-id=&lt;abc@host&gt;</c> → <c>abc@host</c>; bounded, so a hostile header cannot grow the map.</summary>
    internal static string? MessageIdOf(ReadOnlySpan<byte> message)
    {
        if (!message.StartsWith("message-id="u8))
            return null;
        var id = message[11..];
        if (id.Length >= 2 && id[0] == '<' && id[^1] == '>')
            id = id[1..^1];
        if (id.IsEmpty)
            return null;
        if (id.Length > 998)
            id = id[..998];
        return System.Text.Encoding.UTF8.GetString(id);
    }

    private static void Latency(ref MessageState s, double time, int outcome, ref CorrelationResult result)
    {
        double start = s.Received ? s.ReceivedAt : s.FirstSeen;
        if (!double.IsNaN(start) && !double.IsNaN(time) && time >= start)
        {
            result.Latency = time - start;
            result.Outcome = outcome;
        }
    }

    /// <summary>Saves every followed message and what decides evictions (for the checkpoint).</summary>
    public CorrelatorState Capture()
    {
        using var stream = new MemoryStream(_messages.Count * 64);
        var writer = new FieldWriter(stream);
        foreach (var (key, state) in _messages)
        {
            long low = (long)key.Low, high = (long)key.High;
            writer.Long(ref low);
            writer.Long(ref high);
            var copy = state;
            copy.Fields(writer);
        }

        return new CorrelatorState
        {
            Layout = Layout,
            Count = _messages.Count,
            Messages = stream.ToArray(),
            Serial = _serial,
            Refused = _refusedBySmtpd.SelectMany(k => new[] { k.Low, k.High }).ToArray(),
            RefusedNext = _refusedNext,
        };
    }

    /// <summary>
    /// Puts saved messages back (replacing what is followed now). False, and nothing restored,
    /// when the state was written with another field layout or is damaged.
    /// </summary>
    public bool Restore(CorrelatorState state)
    {
        if (state.Layout != Layout)
            return false;
        var restored = new List<(QueueIdKey Key, MessageState State)>(state.Count);
        try
        {
            var reader = new FieldReader(state.Messages);
            for (int i = 0; i < state.Count; i++)
            {
                long low = 0, high = 0;
                reader.Long(ref low);
                reader.Long(ref high);
                var s = default(MessageState);
                s.Fields(reader);
                restored.Add((new QueueIdKey((ulong)low, (ulong)high), s));
            }

            if (!reader.AtEnd)
                return false;
        }
        catch (FormatException)
        {
            return false;
        }

        _messages.Clear();
        _order.Clear();
        // Every followed message has exactly one live entry in the order queue, enqueued when its
        // serial was taken, with its first-seen time: sorting by serial rebuilds the queue.
        foreach (var (key, s) in restored.OrderBy(r => r.State.Serial))
        {
            _messages[key] = s;
            _order.Enqueue((key, s.Serial, s.FirstSeen));
        }

        _serial = state.Serial;
        Array.Clear(_refusedBySmtpd);
        for (int i = 0; i + 1 < state.Refused.Length && i / 2 < _refusedBySmtpd.Length; i += 2)
            _refusedBySmtpd[i / 2] = new QueueIdKey(state.Refused[i], state.Refused[i + 1]);
        _refusedNext = state.RefusedNext >= 0 && state.RefusedNext < _refusedBySmtpd.Length ? state.RefusedNext : 0;
        return true;
    }

    /// <summary>The per-message fields' types in order, e.g. <c>lddlbbbb</c>.</summary>
    internal static string Layout { get; } = DescribeLayout();

    private static string DescribeLayout()
    {
        var layout = new FieldLayout();
        default(MessageState).Fields(layout);
        return layout.ToString();
    }

    private struct MessageState
    {
        public long Serial;
        public double FirstSeen;
        public double ReceivedAt;
        public long Size;
        public bool Received;
        public bool Queued;
        public bool Deferred;
        public bool DkimSigned;
        /// <summary>Cleanup's message-id (without brackets), null until seen.</summary>
        public string? MessageId;
        /// <summary>Deferred delivery lines logged for the message so far.</summary>
        public int Deferrals;

        /// <summary>
        /// Every field, in a fixed order, for the checkpoint. A field added above needs one line
        /// here, or it is lost across restarts.
        /// </summary>
        public void Fields(IFieldCodec c)
        {
            c.Long(ref Serial);
            c.Double(ref FirstSeen);
            c.Double(ref ReceivedAt);
            c.Long(ref Size);
            c.Bool(ref Received);
            c.Bool(ref Queued);
            c.Bool(ref Deferred);
            c.Bool(ref DkimSigned);
            c.String(ref MessageId);
            long deferrals = Deferrals;
            c.Long(ref deferrals);
            Deferrals = (int)deferrals;
        }
    }
}
