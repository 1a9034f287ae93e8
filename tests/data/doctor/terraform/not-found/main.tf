provider "aws" {
  region  = "us-west-2"
  profile = "targte"
}
