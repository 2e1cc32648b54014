namespace MailAgent.LogTailing;

/// <summary>An open log file with its identity, its line splitter and what has been consumed of it.</summary>
internal sealed class OpenLog : IDisposable
{
    private readonly FileStream _stream;
    private readonly LineSplitter _splitter = new();
    private readonly byte[] _prefix = new byte[1024];
    private int _prefixKnown;

    private OpenLog(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
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
        long n = _splitter.ReadAvailable(_stream, sink);
        RememberPrefix();
        return n;
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

    private void RememberPrefix()
    {
        if (_prefixKnown == _prefix.Length)
            return;
        long available = Math.Min(_prefix.Length, _stream.Position);
        if (available <= _prefixKnown)
            return;
        _prefixKnown = RandomAccess.Read(_stream.SafeFileHandle, _prefix.AsSpan(0, (int)available), 0);
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
