"""Provider adapters: the WhatsApp Cloud API over HTTP and the offline sandbox."""
