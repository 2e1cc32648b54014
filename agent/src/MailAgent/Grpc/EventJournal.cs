using Google.Protobuf;
using MailAgent.Protos.V1;

namespace MailAgent.Grpc;

/// <summary>
/// The delivery events on disk (<c>{LogTailing:StateDirectory}/delivery-events.journal</c>), as
/// length-delimited AgentEvent messages, so a killed agent still holds what it told no client yet:
/// each event is written to the OS before the pipeline moves on, hence before the tail checkpoint
/// passes its line. On start the journal's run ID and sequences are continued and its newest events
/// refill the ring. Past <see cref="MaxBytes"/> the file becomes <c>.1</c> (the previous <c>.1</c>
/// goes). A torn last record (killed mid-write) is cut off.
/// </summary>
internal sealed class EventJournal : IDisposable
{
    public const string FileName = "delivery-events.journal";
    private readonly string _path;
    private readonly long _maxBytes;
    private readonly Lock _lock = new();
    private FileStream _file;

    public EventJournal(string directory, long maxBytes = 256L << 20)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, FileName);
        _maxBytes = maxBytes;
        var restored = new List<SequencedEvent>();
        string? run = null;
        ulong last = 0;
        foreach (var file in new[] { _path + ".1", _path })
        {
            if (!File.Exists(file))
                continue;
            long good = Read(file, restored, ref run, ref last);
            if (file == _path && good < new FileInfo(file).Length)
            {
                using var truncate = new FileStream(file, FileMode.Open, FileAccess.Write);
                truncate.SetLength(good);
            }
        }

        RunId = run ?? Guid.NewGuid().ToString("N");
        LastSequence = last;
        Restored = restored;
        _file = Open();
    }

    public string RunId { get; }

    public ulong LastSequence { get; }

    public IReadOnlyList<SequencedEvent> Restored { get; }

    public long MaxBytes => _maxBytes;

    public void Append(AgentEvent e)
    {
        lock (_lock)
        {
            e.WriteDelimitedTo(_file);
            _file.Flush();
            if (_file.Length > _maxBytes)
            {
                _file.Dispose();
                File.Move(_path, _path + ".1", overwrite: true);
                _file = Open();
            }
        }
    }

    private FileStream Open() => new(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);

    /// <summary>Reads whole records; returns the length of the good prefix.</summary>
    private static long Read(string file, List<SequencedEvent> into, ref string? run, ref ulong last)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        long good = 0;
        while (stream.Position < stream.Length)
        {
            // The length prefix, then exactly that many bytes: a record cut short by a kill is not parsed.
            long length = 0;
            int shift = 0, b;
            while ((b = stream.ReadByte()) >= 0 && shift < 35)
            {
                length |= (long)(b & 0x7f) << shift;
                shift += 7;
                if ((b & 0x80) == 0)
                    break;
            }

            if (b < 0 || (b & 0x80) != 0 || length <= 0 || stream.Position + length > stream.Length)
                break;
            var buffer = new byte[length];
            stream.ReadExactly(buffer);
            AgentEvent e;
            try
            {
                e = AgentEvent.Parser.ParseFrom(buffer);
            }
            catch (InvalidProtocolBufferException)
            {
                break;
            }

            if (e.RunId.Length == 0 || e.Sequence == 0)
                break;
            if (run != null && e.RunId != run)
            {
                // A journal from another run (an older file): start over from this run.
                into.Clear();
            }

            run = e.RunId;
            last = Math.Max(last, e.Sequence);
            into.Add(new SequencedEvent(e.Sequence, e.ObservedAt?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch, new JournaledEvent(e)));
            good = stream.Position;
        }

        return good;
    }

    public void Dispose()
    {
        lock (_lock)
            _file.Dispose();
    }
}
