namespace MailAgent.LogTailing;

/// <summary>
/// Diagnostics (<c>LogTailing:LineDigestFile</c>, off by default): passes every line on and
/// appends a 64-bit FNV-1a hash of it, in hex, to a file. The file's length is saved in the
/// checkpoint and the file cut back to it on start, so after any restart it lists each line
/// counted exactly as often as the counts include it: what proves "every line exactly once".
/// </summary>
internal sealed class LineDigest : ILineSink, IDisposable
{
    private readonly ILineSink _inner;
    private readonly FileStream _file;
    private readonly byte[] _entry = new byte[17];

    public LineDigest(ILineSink inner, string path)
    {
        _inner = inner;
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 1 << 16);
        _file.Seek(0, SeekOrigin.End);
        _entry[16] = (byte)'\n';
    }

    public void OnLine(ReadOnlySpan<byte> line)
    {
        _inner.OnLine(line);
        ulong hash = OpenLog.Fnv(line);
        for (int i = 15; i >= 0; i--, hash >>= 4)
            _entry[i] = (byte)"0123456789abcdef"[(int)(hash & 0xf)];
        _file.Write(_entry);
    }

    /// <summary>Hands what was written to the OS and returns the length to keep in the checkpoint.</summary>
    public long Mark()
    {
        _file.Flush();
        return _file.Position;
    }

    /// <summary>Cuts the file back to the checkpoint's length (0 without a checkpoint).</summary>
    public void Rewind(long length)
    {
        _file.Flush();
        _file.SetLength(Math.Min(Math.Max(0, length), _file.Length));
        _file.Seek(0, SeekOrigin.End);
    }

    public void Dispose() => _file.Dispose();
}
