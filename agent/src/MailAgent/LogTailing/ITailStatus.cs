namespace MailAgent.LogTailing;

/// <summary>Read-only view of the tail loop for health checks and the watchdog.</summary>
internal interface ITailStatus
{
    /// <summary>The checkpoint is loaded and the tail positioned.</summary>
    bool Positioned { get; }

    /// <summary>Bytes written to the log and not read yet, as of the last read.</summary>
    long LagBytes { get; }

    /// <summary>When the tail loop last went round (null before the first round).</summary>
    DateTimeOffset? LastLoopUtc { get; }

    /// <summary>Why the log cannot be opened now (null while it can); set from the first failure of an episode.</summary>
    TailOpenProblem? OpenProblem => null;
}

/// <summary>Why the followed log could not be opened.</summary>
internal enum TailOpenFailure
{
    Missing,
    PermissionDenied,
    Other,
}

/// <summary>An episode of failing to open the log: what failed, how, and since when.</summary>
internal sealed record TailOpenProblem(string Path, TailOpenFailure Kind, string Message, DateTimeOffset SinceUtc)
{
    public static TailOpenFailure Classify(Exception error) => error switch
    {
        FileNotFoundException or DirectoryNotFoundException => TailOpenFailure.Missing,
        UnauthorizedAccessException => TailOpenFailure.PermissionDenied,
        _ => TailOpenFailure.Other,
    };
}
