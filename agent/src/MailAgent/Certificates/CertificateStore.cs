using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MailAgent.Certificates;

/// <summary>The outcome of one deployment, as the API reports it.</summary>
internal enum CertificateReloadResult
{
    Deployed,
    Unchanged,
    Refused,
    RolledBack,
}

/// <summary>One deployment's outcome; <see cref="ContentHash"/> identifies the files it judged.</summary>
internal sealed record CertificateOutcome(CertificateReloadResult Result, string Reason, string? ServedFingerprint, DateTimeOffset? NotAfter, DateTimeOffset At, string ContentHash);

/// <summary>One file of the last good set: its path, where it pointed (a symlink) and the copy kept.</summary>
internal sealed record BackedUpFile(string Path, string? LinkTarget, string Copy, string Sha256);

/// <summary>
/// The certificate state kept on disk under the backup directory, shared by the daemon and
/// <c>mailagent cert-deployed</c>: a copy of the last good files with a manifest, the last
/// outcome, and a lock file so only one deployment runs at a time on the host.
/// </summary>
/// <remarks>
/// Restoring: a plain file is replaced atomically (a temporary file in the same directory renamed
/// over it, keeping its mode). A symlink (certbot's live/ links into archive/) is pointed back at
/// the target it had when it was last good, if that file is still there with the same content;
/// this is what certbot itself does to change versions, so certbot keeps managing the lineage and
/// its next renewal goes ahead. When that target is gone or changed, the good content is written
/// over the file the link points to now.
/// </remarks>
internal sealed class CertificateStore(string directory)
{
    private const string ManifestName = "manifest.tsv";
    private const string OutcomeName = "last-outcome.tsv";

    public string Directory => directory;

    /// <summary>SHA-256 over the files' paths and contents: a change of either is a change.</summary>
    public static string ContentHash(IReadOnlyList<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file + "\n"));
            try
            {
                hash.AppendData(File.ReadAllBytes(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                hash.AppendData(Encoding.UTF8.GetBytes("(unreadable)"));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Waits for the host-wide lock (another process may be deploying).</summary>
    public async Task<IDisposable> LockAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        CreateDirectory();
        string path = System.IO.Path.Combine(directory, ".lock");
        while (true)
        {
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                FileOwner.LikeParent(path);
                return stream;
            }
            catch (IOException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken);
            }
        }
    }

    /// <summary>The last good set, or null when none was saved yet.</summary>
    public IReadOnlyList<BackedUpFile>? LastGood()
    {
        string path = System.IO.Path.Combine(directory, ManifestName);
        if (!File.Exists(path))
            return null;
        var files = new List<BackedUpFile>();
        foreach (var line in File.ReadAllLines(path))
        {
            var f = line.Split('\t');
            if (f.Length == 4)
                files.Add(new BackedUpFile(f[0], f[1].Length == 0 ? null : f[1], f[2], f[3]));
        }

        return files;
    }

    /// <summary>The content hash of the last good set (as <see cref="ContentHash"/> computes it from the copies), or null.</summary>
    public string? LastGoodHash()
    {
        string path = System.IO.Path.Combine(directory, "manifest.hash");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>Copies the files (their resolved content) as the new last good set.</summary>
    public void SaveLastGood(IReadOnlyList<string> files, string contentHash)
    {
        CreateDirectory();
        var manifest = new StringBuilder();
        for (int i = 0; i < files.Count; i++)
        {
            byte[] content = File.ReadAllBytes(files[i]);
            string copy = WriteOwn($"good-{i}.pem", content, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var info = new FileInfo(files[i]);
            string? target = info.LinkTarget == null ? null : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            manifest.Append(files[i]).Append('\t').Append(target).Append('\t').Append(copy).Append('\t')
                .Append(Convert.ToHexStringLower(SHA256.HashData(content))).Append('\n');
        }

        WriteOwn(ManifestName, Encoding.UTF8.GetBytes(manifest.ToString()), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        WriteOwn("manifest.hash", Encoding.UTF8.GetBytes(contentHash + "\n"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Puts the last good set back; returns what was done, one phrase per file.</summary>
    public static IReadOnlyList<string> Restore(IReadOnlyList<BackedUpFile> good)
    {
        var done = new List<string>();
        foreach (var file in good)
        {
            byte[] content = File.ReadAllBytes(file.Copy);
            var info = new FileInfo(file.Path);
            if (info.LinkTarget != null)
            {
                if (file.LinkTarget != null && File.Exists(file.LinkTarget) && Sha256(file.LinkTarget) == file.Sha256)
                {
                    string current = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? "";
                    if (current != file.LinkTarget)
                    {
                        RepointLink(file.Path, file.LinkTarget);
                        done.Add($"{file.Path} -> {file.LinkTarget} again");
                    }

                    continue;
                }

                string target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? file.Path;
                WriteAtomically(target, content, null);
                done.Add($"{target} (the target of {file.Path}) rewritten with the last good content");
                continue;
            }

            if (!File.Exists(file.Path) || Sha256(file.Path) != file.Sha256)
            {
                WriteAtomically(file.Path, content, null);
                done.Add($"{file.Path} rewritten with the last good content");
            }
        }

        return done;
    }

    public CertificateOutcome? LastOutcome()
    {
        string path = System.IO.Path.Combine(directory, OutcomeName);
        if (!File.Exists(path))
            return null;
        var f = File.ReadAllText(path).TrimEnd('\n').Split('\t');
        if (f.Length != 6 || !Enum.TryParse<CertificateReloadResult>(f[0], out var result)
            || !DateTimeOffset.TryParse(f[4], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            return null;
        DateTimeOffset? notAfter = DateTimeOffset.TryParse(f[3], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var n) ? n : null;
        return new CertificateOutcome(result, f[1], f[2].Length == 0 ? null : f[2], notAfter, at, f[5]);
    }

    public void SaveOutcome(CertificateOutcome outcome)
    {
        CreateDirectory();
        string text = string.Join('\t', outcome.Result.ToString(), outcome.Reason.Replace('\t', ' ').Replace('\n', ' '), outcome.ServedFingerprint ?? "",
            outcome.NotAfter?.ToString("o", CultureInfo.InvariantCulture) ?? "", outcome.At.ToString("o", CultureInfo.InvariantCulture), outcome.ContentHash) + "\n";
        WriteOwn(OutcomeName, Encoding.UTF8.GetBytes(text), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    // The store's directory and files belong to whoever owns the directory above it (the service user, under
    // systemd's StateDirectory=), also when certbot's deploy hook writes them as root: the daemon must still take
    // the lock and read the copies.
    private void CreateDirectory()
    {
        System.IO.Directory.CreateDirectory(directory);
        FileOwner.LikeParent(directory);
    }

    private string WriteOwn(string name, byte[] content, UnixFileMode mode)
    {
        string path = System.IO.Path.Combine(directory, name);
        WriteAtomically(path, content, mode);
        FileOwner.LikeParent(path);
        return path;
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    // A new symlink renamed over the old one: readers see the old or the new link, never none.
    private static void RepointLink(string link, string target)
    {
        string temporary = link + ".mailagent-tmp";
        File.Delete(temporary);
        File.CreateSymbolicLink(temporary, target);
        File.Move(temporary, link, overwrite: true);
    }

    // Same directory, then rename: a process starting meanwhile reads the old or the new file, whole.
    private static void WriteAtomically(string path, byte[] content, UnixFileMode? mode)
    {
        string temporary = path + ".mailagent-tmp";
        var keep = mode ?? (File.Exists(path) && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(path) : UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temporary, keep);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
