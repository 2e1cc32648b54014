namespace MailAgent.LogTailing;

/// <summary>
/// What the line consumer keeps in the checkpoint beside the position (the counts, for one):
/// captured when a checkpoint is written and restored before the first line is read. The tail
/// depends on this interface only, never on what implements it.
/// </summary>
internal interface ICheckpointState
{
    void Capture(Checkpoint checkpoint);

    void Restore(Checkpoint checkpoint);
}
