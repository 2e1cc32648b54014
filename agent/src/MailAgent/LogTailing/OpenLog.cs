namespace MailAgent.LogTailing;

/// <summary>An open log file with its identity, its line splitter and what has been consumed of it.</summary>
internal sealed class OpenLog : IDisposable
{
    private readonly FileStream _stream;
    private readonly PrefixKeeper _reader;
    private readonly LineSplitter _splitter = new();
    private readonly byte[] _prefix = new byte[1024];
    private int _prefixKnown;

    private OpenLog(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
        _reader = new PrefixKeeper(this);
        Identity = FileIdentity.OfHandle(stream.SafeFileHandle);
    }

    public string Path { get; }
    public FileIdentity Identity { get; }
    public long Length => RandomAccess.GetLength(_stream.SafeFileHandle);

    /// <summary>Bytes of complete lines handed on (a partial last line is not consumed yet).</summary>
    public long Consumed => _stream.Position - _splitter.PendingBytes;

    public static OpenLog? TryOpen(string path) => TryOpen(path, out _);

    /// <summary>Opens <paramref name="path"/>, or returns null with the reason it could not be opened.</summary>
    public static OpenLog? TryOpen(string path, out Exception? error)
    {
        error = null;
        try
        {
            var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
            });
            return new OpenLog(path, stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            error = e;
            return null;
        }
    }

    public void SeekToEnd()
    {
        _stream.Seek(0, SeekOrigin.End);
        _splitter.Reset();
    }

    public void SeekTo(long offset)
    {
        _stream.Seek(offset, SeekOrigin.Begin);
        _splitter.Reset();
    }

    public void Restart()
    {
        SeekTo(0);
        _prefixKnown = 0;
    }

    public long ReadAvailable(ILineSink sink)
    {
        // Started past the bytes remembered (a restart at a checkpointed offset): those first bytes come
        // from the file, which the checkpoint's hash has just shown to be the same file.
        RememberPrefixFromFile();
        return _splitter.ReadAvailable(_reader, sink);
    }

    public void FlushPartial(ILineSink sink) => _splitter.Flush(sink);

    /// <summary>Hash of the first <paramref name="length"/> bytes as they are on disk now.</summary>
    public ulong PrefixHash(int length)
    {
        if (length <= 0)
            return Fnv(ReadOnlySpan<byte>.Empty);
        var buffer = new byte[length];
        int n = RandomAccess.Read(_stream.SafeFileHandle, buffer, 0);
        return n < length ? ulong.MaxValue : Fnv(buffer);
    }

    /// <summary>Hash of the first bytes as they were when we read them (before a truncation replaced them).</summary>
    public ulong RememberedPrefixHash(int length) => Fnv(_prefix.AsSpan(0, Math.Min(length, _prefixKnown)));

    /// <summary>The file is shorter than what we read, or its first bytes changed: it was truncated and rewritten.</summary>
    public bool WasTruncated()
    {
        long consumed = _stream.Position;
        if (Length < consumed)
            return true;
        if (_prefixKnown == 0)
            return false;
        Span<byte> now = stackalloc byte[_prefixKnown];
        int n = RandomAccess.Read(_stream.SafeFileHandle, now, 0);
        return n < _prefixKnown || !now.SequenceEqual(_prefix.AsSpan(0, _prefixKnown));
    }

    private void RememberPrefixFromFile()
    {
        long available = Math.Min(_prefix.Length, _stream.Position);
        if (available <= _prefixKnown)
            return;
        _prefixKnown = RandomAccess.Read(_stream.SafeFileHandle, _prefix.AsSpan(0, (int)available), 0);
    }

    // Bytes read at [at, at + count): the part of them among the first 1024 of the file, right after what is
    // known, is remembered as read. A second look at the file afterwards could see other bytes: copytruncate
    // may have emptied and refilled it in between.
    private void Remember(long at, ReadOnlySpan<byte> read)
    {
        if (_prefixKnown == _prefix.Length || at > _prefixKnown)
            return;
        int skip = (int)(_prefixKnown - at);
        if (skip >= read.Length)
            return;
        var fresh = read[skip..];
        int take = Math.Min(fresh.Length, _prefix.Length - _prefixKnown);
        fresh[..take].CopyTo(_prefix.AsSpan(_prefixKnown));
        _prefixKnown += take;
    }

    /// <summary>What the splitter reads through: the file, remembering its first bytes as they pass.</summary>
    private sealed class PrefixKeeper(OpenLog log) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => log._stream.Length;

        public override long Position
        {
            get => log._stream.Position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            long at = log._stream.Position;
            int n = log._stream.Read(buffer);
            if (n > 0)
                log.Remember(at, buffer[..n]);
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    internal static ulong Fnv(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in data)
            h = (h ^ b) * 1099511628211UL;
        return h;
    }

    public void Dispose() => _stream.Dispose();
}
