"""Channel adapters: each turns its payload into an IncomingMessage and renders the Reply; nothing else."""
