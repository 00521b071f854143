"""The local Platform stand-in: IMS and the four Platform APIs over HTTP; never imports worker."""
